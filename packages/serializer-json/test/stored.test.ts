import { isSerializerError } from '@waltz/core'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { jsonSerializer, readStoredJson } from '../src/index.js'

describe('readStoredJson (tools without the schemas)', () => {
  it('reads the schema version and the stored JSON value of what jsonSerializer wrote', () => {
    const serializer = jsonSerializer({
      schemas: {
        At: z.object({
          when: z.codec(z.iso.datetime(), z.date(), {
            decode: (s) => new Date(s),
            encode: (d) => d.toISOString(),
          }),
        }),
        Nothing: z.undefined(),
      },
      versions: { At: 3 },
    })
    const bytes = serializer.encode({ when: new Date('2026-01-02T03:04:05.000Z') }, 'At')
    // The stored form is the schema's input (an ISO string), not the decoded Date.
    expect(readStoredJson(bytes, 'At')).toEqual({ version: 3, data: { when: '2026-01-02T03:04:05.000Z' } })
    expect(readStoredJson(serializer.encode(undefined, 'Nothing'), 'Nothing')).toEqual({
      version: 1,
      data: undefined,
    })
  })

  it('refuses bytes jsonSerializer does not write with SERIALIZER_DECODE_FAILED', () => {
    for (const text of ['', 'nope', '[1]', '{"data":1}', '{"v":0,"data":1}', '{"v":1.5}']) {
      let err: unknown
      try {
        readStoredJson(new TextEncoder().encode(text), 'T')
      } catch (e) {
        err = e
      }
      expect(isSerializerError(err, 'SERIALIZER_DECODE_FAILED'), text).toBe(true)
      expect(err).toMatchObject({ type: 'T' })
    }
  })
})
