/**
 * Compression of record blocks (the `compression` option): the codecs of `node:zlib`, each with a
 * one-byte id stored in every compressed block (docs/FORMAT.md, "Compressed blocks"), and bounded
 * decompression: a block declares its decompressed size, and no more than that is ever produced or
 * allocated, so a damaged or hostile block cannot exhaust memory.
 *
 * @internal
 */
import * as zlib from 'node:zlib'
import { WalError } from './errors.js'

/** A compression codec of `node:zlib`. `'zstd'` needs a Node that has it (22.15 and later). */
export type CompressionCodec = 'deflate' | 'brotli' | 'zstd'

/**
 * The `compression` option: `'none'` (the default), a codec at its default level, or a codec with a
 * level (deflate 1..9, default 6; brotli 0..11, default 4; zstd 1..19, default 3).
 */
export type CompressionOption =
  | 'none'
  | CompressionCodec
  | {
      /** The codec. */
      codec: CompressionCodec
      /** Its level: higher compresses more and slower. */
      level?: number
    }

/** Compresses blocks with one codec at one level. */
export interface BlockCompressor {
  /** The codec's id in the block. */
  readonly id: number
  /** The codec's name. */
  readonly codec: CompressionCodec
  /** Compresses `input`. */
  compress(input: Uint8Array): Buffer
}

/** Codec ids as stored in a block. Never reuse a number. */
const CODEC_IDS: Readonly<Record<CompressionCodec, number>> = { deflate: 1, brotli: 2, zstd: 3 }
const LEVELS: Readonly<Record<CompressionCodec, { min: number; max: number; default: number }>> = {
  deflate: { min: 1, max: 9, default: 6 },
  // Brotli's own default (11) is an archiver's setting: far too slow for a write path.
  brotli: { min: 0, max: 11, default: 4 },
  zstd: { min: 1, max: 19, default: 3 },
}

// zstd arrived in node:zlib in Node 22.15 / 23.8; the typings of Node 20 do not know it.
const zstd = zlib as unknown as {
  zstdCompressSync?: (input: Uint8Array, options: object) => Buffer
  zstdDecompressSync?: (input: Uint8Array, options: object) => Buffer
  constants: { ZSTD_c_compressionLevel?: number }
}

/** Whether the running Node can compress and decompress `codec`. */
export function codecAvailable(codec: CompressionCodec): boolean {
  return codec !== 'zstd' || typeof zstd.zstdCompressSync === 'function'
}

/**
 * Validates the `compression` option.
 *
 * @returns the compressor, or undefined for `'none'`
 * @throws WalError `WAL_INVALID_ARGUMENT` (an unknown codec or level, or zstd on a Node without it)
 */
export function resolveCompression(option: unknown): BlockCompressor | undefined {
  if (option === undefined || option === 'none') return undefined
  const spec =
    typeof option === 'string' ? { codec: option } : (option as { codec?: unknown; level?: unknown } | null)
  if (
    typeof spec !== 'object' ||
    spec === null ||
    !(typeof spec.codec === 'string' && spec.codec in CODEC_IDS)
  ) {
    throw WalError.INVALID_ARGUMENT(
      "compression must be 'none', 'deflate', 'brotli', 'zstd' or { codec, level }",
    )
  }
  for (const key of Object.keys(spec)) {
    if (key !== 'codec' && key !== 'level')
      throw WalError.INVALID_ARGUMENT(`compression has no option '${key}'`)
  }
  const codec = spec.codec as CompressionCodec
  if (!codecAvailable(codec)) {
    throw WalError.INVALID_ARGUMENT(
      `compression '${codec}' needs Node 22.15 or later (this is ${process.version})`,
    )
  }
  const range = LEVELS[codec]
  const level = (spec as { level?: unknown }).level ?? range.default
  if (typeof level !== 'number' || !Number.isInteger(level) || level < range.min || level > range.max) {
    throw WalError.INVALID_ARGUMENT(
      `compression level for ${codec} must be an integer ${range.min}..${range.max}`,
    )
  }
  return { id: CODEC_IDS[codec], codec, compress: compressorOf(codec, level) }
}

function compressorOf(codec: CompressionCodec, level: number): (input: Uint8Array) => Buffer {
  switch (codec) {
    case 'deflate':
      return (input) => zlib.deflateRawSync(input, { level })
    case 'brotli': {
      const params = {
        [zlib.constants.BROTLI_PARAM_QUALITY]: level,
        [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_GENERIC,
      }
      return (input) =>
        zlib.brotliCompressSync(input, {
          params: { ...params, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: input.byteLength },
        })
    }
    case 'zstd': {
      const params = { [zstd.constants.ZSTD_c_compressionLevel!]: level }
      return (input) => zstd.zstdCompressSync!(input, { params })
    }
  }
}

/**
 * Decompresses a block's bytes, producing at most `size` bytes.
 *
 * @param id - the codec id stored in the block
 * @param input - the compressed bytes
 * @param size - the decompressed size the block declares
 * @returns the bytes (exactly `size` of them), or a string saying what is wrong with the block
 */
export function decompressBlock(id: number, input: Uint8Array, size: number): Buffer | string {
  let out: Buffer
  try {
    const options = { maxOutputLength: Math.max(size, 1) }
    if (id === CODEC_IDS.deflate) out = zlib.inflateRawSync(input, options)
    else if (id === CODEC_IDS.brotli) out = zlib.brotliDecompressSync(input, options)
    else if (id === CODEC_IDS.zstd) {
      if (zstd.zstdDecompressSync === undefined) {
        return `a zstd block needs Node 22.15 or later to read (this is ${process.version})`
      }
      out = zstd.zstdDecompressSync(input, options)
    } else return `unknown compression codec ${id}`
  } catch (err) {
    return `the compressed block does not decompress (${(err as Error).message})`
  }
  if (out.length !== size)
    return `the compressed block holds ${out.length} bytes, not the ${size} it declares`
  return out
}
