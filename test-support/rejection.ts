/**
 * The error a promise rejects with; fails the test when it resolves instead. For asserting on several
 * fields of an expected failure (`expect(await rejection(p)).toMatchObject({ code, actual })`).
 *
 * @param promise - a promise expected to reject
 * @returns what it rejected with
 */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (err) {
    return err
  }
  throw new Error('expected a rejection')
}
