/**
 * Reads an async iterable to its end.
 *
 * @param iterable - for example `wal.records()`
 * @returns every item, in order
 * @throws whatever the iteration throws (a test of a damaged log can `await expect(collect(...)).rejects`)
 */
export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const item of iterable) out.push(item)
  return out
}
