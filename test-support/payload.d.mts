/**
 * Deterministic bytes: the same `seed` and `size` always give the same content, and neighbouring seeds
 * give unrelated content. A test that appends `payloadFor(seq, size)` (or a child that prints the seed
 * and size it acknowledged) can check every record's bytes after a reopen, a crash or a restore.
 *
 * @param seed - usually the record's seq or id
 * @param size - the length in bytes
 * @returns a new array of `size` bytes
 * @example
 * await wal.append({ type: 'r', data: payloadFor(seq, 100) })
 * expect(record.data).toEqual(payloadFor(record.seq, 100))
 */
export declare function payloadFor(seed: number, size: number): Uint8Array

/**
 * Like {@link payloadFor}, but bytes any codec can shrink (random letters from a four-letter alphabet):
 * for tests of compression, where random bytes would be stored as they are.
 *
 * @param seed - usually the record's seq or id
 * @param size - the length in bytes
 * @returns a new array of `size` bytes
 */
export declare function compressiblePayloadFor(seed: number, size: number): Uint8Array
