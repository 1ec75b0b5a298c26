/**
 * The `archive` option, on a directory archive: every sealed segment is copied and verified in the
 * background; with retention, a segment goes locally only once archived (an archive that is down
 * holds removals back, and appends go on); a restart resumes, re-copying a copy that does not match;
 * a writer SIGKILLed mid-copy leaves nothing the next open does not finish. `directoryArchive`'s `list`
 * and `get`, the reading side.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { exited, onLines } from '../../../test-support/child-process.js'
import { payloadFor } from '../../../test-support/payload.mjs'
import { rejection } from '../../../test-support/rejection.js'
import { tempDir } from '../../../test-support/temp-dir.js'
import { type Archive, directoryArchive, Wal } from '../src/index.js'
import { segmentFiles, startFixture } from './helpers.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
async function until(done: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms
  while (!done() && Date.now() < end) await sleep(5)
}

async function fill(wal: Wal, from: number, to: number): Promise<void> {
  for (let i = from; i <= to; i++) await wal.append({ type: 'r', data: payloadFor(i, 200) })
}

/** Every sealed segment of `dir` (all but the newest) has a byte-identical copy in `archiveDir`. */
function expectArchived(dir: string, archiveDir: string): number {
  const sealed = segmentFiles(dir).slice(0, -1)
  for (const path of sealed) {
    const copy = join(archiveDir, basename(path))
    expect(existsSync(copy), basename(path)).toBe(true)
    expect(readFileSync(copy).equals(readFileSync(path)), basename(path)).toBe(true)
  }
  return sealed.length
}

/** A directory archive that can be taken down (its puts and stats fail) and counts its puts. */
function flakyArchive(dir: string) {
  const inner = directoryArchive(dir)
  const state = { down: false, puts: 0 }
  const archive: Archive = {
    name: `flaky ${dir}`,
    put: async (segment, path, signal) => {
      if (state.down) throw new Error('connect ECONNREFUSED 127.0.0.1:9000')
      state.puts++
      return inner.put(segment, path, signal)
    },
    stat: async (name, signal) => {
      if (state.down) throw new Error('connect ECONNREFUSED 127.0.0.1:9000')
      return inner.stat(name, signal)
    },
    list: async (signal) => {
      if (state.down) throw new Error('connect ECONNREFUSED 127.0.0.1:9000')
      return inner.list(signal)
    },
    get: async (name, signal) => {
      if (state.down) throw new Error('connect ECONNREFUSED 127.0.0.1:9000')
      return inner.get(name, signal)
    },
  }
  return { archive, state }
}

describe('archive', () => {
  it('copies every sealed segment in the background and verifies each copy', async () => {
    const dir = tempDir()
    const archiveDir = tempDir()
    const wal = await Wal.open({ dir, segmentSize: 4096, archive: directoryArchive(archiveDir) })
    await fill(wal, 1, 300)
    await until(() => wal.metrics().archive.pending === 0)
    const m = wal.metrics().archive
    const sealed = expectArchived(dir, archiveDir)
    expect(sealed).toBeGreaterThan(10)
    expect(m.archived).toBe(sealed)
    expect(m.uploadedBytes).toBeGreaterThan(sealed * 3000)
    expect(m.failures).toBe(0)
    await wal.close()
  })

  it('with retention, a segment goes locally only once archived: an archive down holds removals back', async () => {
    const dir = tempDir()
    const { archive, state } = flakyArchive(tempDir())
    state.down = true
    const wal = await Wal.open({
      dir,
      segmentSize: 4096,
      archive,
      retention: { maxBytes: 8 * 1024, intervalMs: 10 },
    })
    await fill(wal, 1, 300)
    await until(() => wal.metrics().archive.failures > 0)
    await sleep(100)
    // Appends went on, retention removed nothing: no segment is archived.
    expect(wal.firstSeq).toBe(1)
    expect(wal.metrics().retention.segmentsRemoved).toBe(0)
    expect(wal.metrics().archive.pending).toBeGreaterThan(10)
    state.down = false
    // Retried with backoff: once copied, retention removes them.
    await until(() => wal.metrics().archive.pending === 0 && wal.firstSeq > 1)
    expect(wal.metrics().archive.pending).toBe(0)
    expect(wal.firstSeq).toBeGreaterThan(200)
    await wal.close()
  })

  it('resumes after a restart: copies what is missing, re-copies what does not match, never twice', async () => {
    const dir = tempDir()
    const archiveDir = tempDir()
    const first = await Wal.open({ dir, segmentSize: 4096 }) // no archive yet
    await fill(first, 1, 200)
    await first.close()
    const { archive, state } = flakyArchive(archiveDir)
    let wal = await Wal.open({ dir, segmentSize: 4096, archive })
    await until(() => wal.metrics().archive.pending === 0)
    const sealed = expectArchived(dir, archiveDir)
    expect(state.puts).toBe(sealed)
    await wal.close()
    // One copy damaged, one lost: the next open finds out and copies those two again, only them.
    const copies = readdirSync(archiveDir).sort()
    writeFileSync(join(archiveDir, copies[2]!), 'garbage')
    const lost = join(archiveDir, copies[5]!)
    writeFileSync(lost, '')
    state.puts = 0
    wal = await Wal.open({ dir, segmentSize: 4096, archive })
    await until(() => wal.metrics().archive.pending === 0)
    expect(state.puts).toBe(2)
    expectArchived(dir, archiveDir)
    await wal.close()
  })

  it('SIGKILLed while copying: the next open completes the archive, every copy byte-identical', async () => {
    const dir = tempDir()
    const archiveDir = tempDir()
    for (let round = 0; round < 4; round++) {
      const child = startFixture('appender.mjs', [
        dir,
        'always',
        '8',
        String(16 * 1024),
        'false',
        '-',
        archiveDir,
      ])
      await new Promise<void>((resolve, reject) => {
        child.once('exit', (code) => reject(new Error(`appender exited early with ${code}`)))
        onLines(child, (line) => {
          if (line.startsWith('ready')) setTimeout(resolve, 150 + round * 50)
        })
      })
      child.removeAllListeners('exit')
      child.kill('SIGKILL')
      await exited(child)
    }
    const wal = await Wal.open({ dir, segmentSize: 16 * 1024, archive: directoryArchive(archiveDir) })
    await until(() => wal.metrics().archive.pending === 0)
    expect(expectArchived(dir, archiveDir)).toBeGreaterThan(4)
    await wal.close()
  }, 60_000)

  it('refuses an archive without put and stat', async () => {
    await expect(
      Wal.open({ dir: tempDir(), archive: { name: 'x' } as unknown as Archive }),
    ).rejects.toMatchObject({ code: 'WAL_INVALID_ARGUMENT' })
  })
})

describe('directoryArchive list and get', () => {
  const never = new AbortController().signal
  /** A log archived to a fresh directory: the archive directory and the sealed segment files. */
  async function archivedLog() {
    const dir = tempDir()
    const archiveDir = tempDir()
    const wal = await Wal.open({ dir, segmentSize: 4096, archive: directoryArchive(archiveDir) })
    await fill(wal, 1, 100)
    await until(() => wal.metrics().archive.pending === 0)
    expect(wal.metrics().archive.pending).toBe(0)
    await wal.close()
    return { archiveDir, sealed: segmentFiles(dir).slice(0, -1) }
  }
  async function bytesOf(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
    const chunks: Buffer[] = []
    for await (const chunk of body) chunks.push(Buffer.from(chunk))
    return Buffer.concat(chunks)
  }

  it('list: every segment file with its size; temp files, other files and directories left out', async () => {
    const { archiveDir, sealed } = await archivedLog()
    expect(sealed.length).toBeGreaterThan(3)
    writeFileSync(join(archiveDir, `${basename(sealed[0]!)}.tmp-4242`), 'a copy cut short by a crash')
    writeFileSync(join(archiveDir, 'README'), 'x')
    mkdirSync(join(archiveDir, '00000000000000999999.wal'))
    const listed = await directoryArchive(archiveDir).list(never)
    const expected = sealed.map((path) => ({ name: basename(path), size: readFileSync(path).length }))
    expect([...listed].sort((a, b) => a.name.localeCompare(b.name))).toEqual(expected)
  })

  it('list of a directory that does not exist yet is empty', async () => {
    expect(await directoryArchive(join(tempDir(), 'not-yet')).list(never)).toEqual([])
  })

  it('get streams the stored bytes with their size (a directory records no SHA-256)', async () => {
    const { archiveDir, sealed } = await archivedLog()
    const archive = directoryArchive(archiveDir)
    for (const path of sealed) {
      const download = await archive.get(basename(path), never)
      const file = readFileSync(path)
      expect(download?.size, basename(path)).toBe(file.length)
      expect(download?.sha256).toBeUndefined()
      expect((await bytesOf(download!.body)).equals(file), basename(path)).toBe(true)
    }
  })

  it('get of a name not held is undefined', async () => {
    const { archiveDir } = await archivedLog()
    expect(await directoryArchive(archiveDir).get('00000000000000999999.wal', never)).toBeUndefined()
  })

  it('list and get reject when the archive cannot be read (its path is a file)', async () => {
    const file = join(tempDir(), 'a-file')
    writeFileSync(file, 'x')
    const archive = directoryArchive(file)
    expect(await rejection(archive.list(never))).toMatchObject({ code: 'ENOTDIR' })
    expect(await rejection(archive.get('00000000000000000001.wal', never))).toMatchObject({ code: 'ENOTDIR' })
  })
})
