import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs'
import { dirname } from 'node:path'
import { SerializerError } from '@waltz/core'
import { pack, unpack } from 'msgpackr'
import { BINARY_SHARED_SERIALIZER_NAME } from './options.js'

/** The structures file is only used in `structuresPath` mode, hence the shared serializer's name. */
const serializer = BINARY_SHARED_SERIALIZER_NAME

/** A msgpackr shared structure: the ordered property names of one record shape. */
export type Structure = string[]

/**
 * Reads the shared structures file. A missing file means no structures yet.
 *
 * @param path - the structures file
 * @returns the structures, in id order
 * @throws SerializerError `SERIALIZER_STRUCTURES_FAILED` if the file cannot be read or parsed
 */
export function readStructures(path: string): Structure[] {
  let bytes: Buffer
  try {
    bytes = readFileSync(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw SerializerError.STRUCTURES_FAILED(`cannot read ${path}`, { serializer, cause: err })
  }
  let value: unknown
  try {
    value = unpack(bytes)
  } catch (err) {
    throw SerializerError.STRUCTURES_FAILED(`${path} is not a structures file`, { serializer, cause: err })
  }
  if (
    !Array.isArray(value) ||
    !value.every((s) => Array.isArray(s) && s.every((k) => typeof k === 'string'))
  ) {
    throw SerializerError.STRUCTURES_FAILED(`${path} is not a structures file`, { serializer })
  }
  return value as Structure[]
}

/**
 * Replaces the structures file atomically and durably: writes a temporary file, fsyncs it, renames it
 * over `path` and fsyncs the directory, all synchronously, so the new structures are on disk before the
 * record that first uses them leaves `encode`.
 *
 * @param path - the structures file
 * @param structures - the complete structure list, in id order
 * @throws SerializerError `SERIALIZER_STRUCTURES_FAILED` if any step fails
 */
export function writeStructures(path: string, structures: readonly Structure[]): void {
  const tmp = `${path}.${process.pid}.tmp`
  try {
    // Plain arrays of strings: copy so msgpackr's bookkeeping properties on the arrays are not written.
    const bytes = pack(structures.map((s) => [...s]))
    const fd = openSync(tmp, 'w')
    try {
      let offset = 0
      while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(tmp, path)
    syncDirectory(dirname(path))
  } catch (err) {
    throw SerializerError.STRUCTURES_FAILED(`cannot write ${path}`, { serializer, cause: err })
  }
}

function syncDirectory(dir: string): void {
  const fd = openSync(dir, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}
