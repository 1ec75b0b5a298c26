import protobuf from 'protobufjs/minimal.js'

/**
 * The wire layout of `proto/record.proto`'s `waltz.Record`, written and read by hand so the payload is
 * encoded straight into the envelope's writer (no intermediate copy) and decoded from a view.
 */
const TYPE_TAG = (1 << 3) | 2 // string type = 1
const TIME_TAG = (2 << 3) | 1 // double time = 2
const DATA_TAG = (3 << 3) | 2 // bytes data = 3

/** A decoded envelope: the payload is a view into the input. */
export interface Envelope {
  type: string
  time: number
  data: Uint8Array
}

/**
 * Writes the envelope's type and time and opens the length-delimited `data` field; the caller encodes
 * the payload into the returned writer and then calls {@link finishEnvelope}.
 *
 * @param type - the record type
 * @param time - the record time
 * @returns the writer, positioned inside the data field
 */
export function startEnvelope(type: string, time: number): protobuf.Writer {
  return protobuf.Writer.create()
    .uint32(TYPE_TAG)
    .string(type)
    .uint32(TIME_TAG)
    .double(time)
    .uint32(DATA_TAG)
    .fork()
}

/**
 * Closes the data field and returns the encoded envelope.
 *
 * @param writer - the writer from {@link startEnvelope}, with the payload written
 * @returns the envelope bytes
 */
export function finishEnvelope(writer: protobuf.Writer): Uint8Array {
  return writer.ldelim().finish()
}

/**
 * Reads an envelope. Unknown fields are skipped (forward compatibility); each of type, time and data
 * must be present, so an envelope cut at a field boundary is rejected rather than read as defaults.
 *
 * @param bytes - the encoded envelope
 * @returns the envelope, with `data` a view into `bytes`
 * @throws Error (from protobufjs or for a missing field) if `bytes` is not an envelope
 */
export function readEnvelope(bytes: Uint8Array): Envelope {
  const reader = protobuf.Reader.create(bytes)
  let type: string | undefined
  let time: number | undefined
  let data: Uint8Array | undefined
  while (reader.pos < reader.len) {
    const tag = reader.uint32()
    if (tag === TYPE_TAG) {
      type = reader.string()
    } else if (tag === TIME_TAG) {
      time = reader.double()
    } else if (tag === DATA_TAG) {
      const length = reader.uint32()
      const start = reader.pos
      reader.skip(length)
      data = bytes.subarray(start, start + length)
    } else {
      if (tag >>> 3 === 0) throw new Error(`invalid field number 0 at offset ${reader.pos}`)
      reader.skipType(tag & 7)
    }
  }
  if (type === undefined || time === undefined || data === undefined) {
    throw new Error(`envelope without ${type === undefined ? 'type' : time === undefined ? 'time' : 'data'}`)
  }
  return { type, time, data }
}
