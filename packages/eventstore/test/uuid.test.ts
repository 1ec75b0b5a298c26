import { describe, expect, it } from 'vitest'
import { uuidv7 } from '../src/uuid.js'

const FORM = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

describe('uuidv7', () => {
  it('has the version 7 form and embeds the given time in its first 48 bits', () => {
    const now = Date.UTC(2026, 10, 30, 19, 30)
    const id = uuidv7(now)
    expect(id).toMatch(FORM)
    expect(Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16)).toBe(now)
  })

  it('gives distinct ids across many pool refills, with every random digit used', () => {
    const ids = new Set<string>()
    const seen = Array.from({ length: 36 }, () => new Set<string>())
    for (let i = 0; i < 20_000; i++) {
      const id = uuidv7(1_700_000_000_000)
      expect(id).toMatch(FORM)
      ids.add(id)
      for (let c = 0; c < 36; c++) seen[c]!.add(id[c]!)
    }
    expect(ids.size).toBe(20_000)
    // Random positions take all 16 digits (the variant digit its 4): none is stuck.
    for (const c of [15, 16, 17, 20, 21, 22, 24, 30, 35]) expect(seen[c]!.size).toBe(16)
    expect([...seen[19]!].sort()).toEqual(['8', '9', 'a', 'b'])
  })

  it('sorts by time across milliseconds', () => {
    const a = uuidv7(1_000)
    const b = uuidv7(1_001)
    expect(a < b).toBe(true)
  })
})
