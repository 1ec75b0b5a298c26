import { readFileSync, writeFileSync } from 'node:fs'

/**
 * Damages one byte of a file in place by flipping bits, as a bad sector or a stray write would.
 *
 * @param file - the path
 * @param at - the byte offset
 * @param mask - the bits to flip (not 0, or nothing changes)
 */
export function flipByte(file: string, at: number, mask = 0x40): void {
  const buf = readFileSync(file)
  buf[at] = buf[at]! ^ mask
  writeFileSync(file, buf)
}
