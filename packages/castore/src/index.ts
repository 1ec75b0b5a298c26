/**
 * Placeholder until the adapter lands (issue 14).
 */
export const ADAPTER_PENDING = true
