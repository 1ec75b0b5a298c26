import { isWaltzError, WaltzError } from '@waltz/core'

/**
 * Stable error codes of `@waltz/ui`. Codes are public API: new ones may be added, existing ones are
 * never renamed.
 */
export type UiErrorCode =
  /** `host` is not a loopback address and `allowRemote` was not set. */
  | 'UI_REMOTE_NOT_ALLOWED'
  /** An option is out of range or malformed. */
  | 'UI_INVALID_ARGUMENT'
  /** The server could not listen (address in use, not an address of this machine, ...); `cause` says. */
  | 'UI_LISTEN_FAILED'

/** An error of `@waltz/ui`, with a stable {@link UiErrorCode}. */
export class UiError extends WaltzError<UiErrorCode> {
  /** Always `'UiError'`. */
  override readonly name = 'UiError'

  /**
   * @param code - the stable code
   * @param message - the explanation
   * @param options - `cause`
   */
  constructor(code: UiErrorCode, message: string, options: ErrorOptions = {}) {
    super(code, message, options)
  }
}

/**
 * Whether `err` is a {@link UiError}, optionally with the given code.
 *
 * @param err - any thrown value
 * @param code - if given, the code it must carry
 * @returns true for a UiError (with that code)
 */
export function isUiError(err: unknown, code?: UiErrorCode): err is UiError {
  return isWaltzError<UiError>(err, 'UiError', code)
}
