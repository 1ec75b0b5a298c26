/**
 * `@waltz/ui`: a local web inspector for waltz event stores, read-only, served on 127.0.0.1 with a
 * random access token. `waltz ui <dir>` runs it; {@link startUi} embeds it.
 */
export { isUiError, UiError, type UiErrorCode } from './errors.js'
export { startUi, type UiOptions, type UiServer } from './server.js'
