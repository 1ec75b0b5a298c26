/** The `<range>` of `waltz archive fetch`, and which of its seqs a set of segments leaves out. */
import { describe, expect, it } from 'vitest'
import { CliError } from '../src/lib/errors.js'
import { describeSeqs, missingSeqs, parseSeqRange } from '../src/lib/seq-range.js'

describe('parseSeqRange', () => {
  it('reads N, N..M and N..', () => {
    expect(parseSeqRange('7', 'x')).toEqual({ from: 7, to: 7 })
    expect(parseSeqRange('7..9', 'x')).toEqual({ from: 7, to: 9 })
    expect(parseSeqRange('7..7', 'x')).toEqual({ from: 7, to: 7 })
    expect(parseSeqRange('7..', 'x')).toEqual({ from: 7, to: undefined })
    expect(describeSeqs({ from: 7, to: 7 })).toBe('seq 7')
    expect(describeSeqs({ from: 7, to: undefined })).toBe('seqs 7..')
  })

  it.each(['', '0', '-1', '1.5', 'a', '..3', '1...3', '1..2..3', '3..x', '9007199254740993', '5..2'])(
    "refuses '%s' with a usage error",
    (text) => {
      expect(() => parseSeqRange(text, 'archive fetch')).toThrow(CliError)
      expect(() => parseSeqRange(text, 'archive fetch')).toThrow(/see `waltz archive fetch --help`/)
    },
  )
})

describe('missingSeqs', () => {
  it('a closed range: what no segment covers, below, between and above', () => {
    const held: [number, number][] = [
      [20, 29],
      [10, 14],
    ]
    expect(missingSeqs({ from: 1, to: 40 }, held)).toEqual([
      [1, 9],
      [15, 19],
      [30, 40],
    ])
    expect(missingSeqs({ from: 11, to: 25 }, held)).toEqual([[15, 19]])
    expect(missingSeqs({ from: 12, to: 13 }, held)).toEqual([])
  })

  it('an open range ends at the last seq held, also when that end is open', () => {
    expect(missingSeqs({ from: 5, to: undefined }, [[10, 19]])).toEqual([[5, 9]])
    const open: [number, number][] = [
      [10, 19],
      [30, Number.POSITIVE_INFINITY],
    ]
    expect(missingSeqs({ from: 10, to: undefined }, open)).toEqual([[20, 29]])
    expect(missingSeqs({ from: 35, to: undefined }, open)).toEqual([])
  })

  it('a segment holding nothing (last below first) covers nothing', () => {
    expect(missingSeqs({ from: 1, to: 5 }, [[3, 2]])).toEqual([[1, 5]])
  })
})
