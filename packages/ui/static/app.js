// The waltz inspector's page: Preact components written with htm tagged templates, so the browser
// runs this file as it is (no build step). Every list is one page from the server; nothing here ever
// holds a whole stream or the whole log.
import htm from 'htm'
import { h, render } from 'preact'
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks'

const html = htm.bind(h)

// The token came in the URL; the server answered with a cookie, so the address bar can forget it.
if (new URLSearchParams(location.search).has('token')) history.replaceState(null, '', `/${location.hash}`)

const { apiPath, route: parseHash, read, take, settled } = window.waltzBoot

async function api(path, init) {
  // The first load of the page's data was started by boot.js, before the modules loaded.
  const { ok, status, body } = await ((init === undefined && take(path)) || fetch(path, init).then(read))
  if (!ok) throw new Error(body.error ?? `${status}`)
  return body
}

// Thousands separators by hand: `toLocaleString` (and even one `Intl.NumberFormat`) loads ICU's
// locale data in each new page; sampling profiles of the streams page on a busy machine put 75 to
// 380 ms of wall time there (bench/streams-page.mjs).
const fmtInt = (n) => (n === null || n === undefined ? '–' : String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ','))
const fmtTime = (t) =>
  t === undefined || t === null ? '–' : new Date(t).toISOString().replace('T', ' ').replace('Z', '')
function fmtBytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024
    i++
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`
}

const go = (page, params = {}) => {
  const q = new URLSearchParams(
    Object.entries(params).filter(([, v]) => v !== undefined && v !== ''),
  ).toString()
  location.hash = `#/${page}${q ? `?${q}` : ''}`
}

function useRoute() {
  const [route, setRoute] = useState(parseHash())
  useEffect(() => {
    const on = () => setRoute(parseHash())
    addEventListener('hashchange', on)
    return () => removeEventListener('hashchange', on)
  }, [])
  return route
}

/** Loads `path` (again whenever it changes, and every `everyMs` when given). */
function useApi(path, everyMs) {
  const [state, setState] = useState({ data: undefined, error: undefined })
  // A layout effect runs right after the render; a plain effect would wait for the next frame (or
  // 35 ms) before the request even starts.
  useLayoutEffect(() => {
    let live = true
    const load = () =>
      api(path).then(
        (data) => live && setState({ data, error: undefined }),
        (error) => live && setState((s) => ({ data: s.data, error: error.message })),
      )
    load()
    const timer = everyMs ? setInterval(load, everyMs) : undefined
    return () => {
      live = false
      clearInterval(timer)
    }
  }, [path, everyMs])
  return state
}

const ErrorBox = ({ error }) => (error ? html`<div class="error" data-testid="error">${error}</div>` : null)

function Header({ page, dir }) {
  const link = (p, label) =>
    html`<a href=${`#/${p}`} class=${page === p ? 'active' : ''} data-testid=${`nav-${p}`}>${label}</a>`
  return html`<header>
    <strong>waltz ui</strong>
    <nav>${link('overview', 'Overview')}${link('streams', 'Streams')}${link('all', 'All events')}${link('consumers', 'Consumers')}</nav>
    <span class="dir">${dir ?? ''} · read-only</span>
  </header>`
}

/**
 * Lines over time as SVG: each series a list of `{ t, v }` points, `v` null for "no value here" (the
 * line breaks there), with a dot at each point when `dots` (a lone point draws no line). The y axis
 * starts at 0.
 */
function LineChart({ series, unit, testid, digits = 1 }) {
  const w = 640
  const hgt = 140
  const all = series.flatMap((s) => s.points)
  const values = all.filter((p) => p.v !== null)
  if (all.length < 2) return html`<p class="muted" data-testid=${`${testid}-waiting`}>Collecting samples…</p>`
  const max = Math.max(...values.map((p) => p.v), unit === '/s' ? 1 : 0.001)
  const t0 = Math.min(...all.map((p) => p.t))
  const span = Math.max(1, Math.max(...all.map((p) => p.t)) - t0)
  const x = (t) => ((t - t0) / span) * (w - 60) + 55
  const y = (v) => hgt - 20 - (v / max) * (hgt - 35)
  const runs = (points) => {
    // One polyline per run of consecutive points with a value.
    const out = [[]]
    for (const p of points) {
      if (p.v === null) out.push([])
      else out.at(-1).push(`${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`)
    }
    return out.filter((r) => r.length > 0)
  }
  const label = (v) => `${v.toFixed(v < 10 ? digits : 0)}${unit}`
  return html`<svg class="chart" width=${w} height=${hgt} viewBox=${`0 0 ${w} ${hgt}`} data-testid=${testid}>
    <text x="4" y="14" font-size="11" fill="#6b6b70">${label(max)}</text>
    <text x="4" y=${hgt - 20} font-size="11" fill="#6b6b70">0</text>
    <text x="55" y=${hgt - 4} font-size="11" fill="#6b6b70">−${Math.round(span / 1000)} s</text>
    <text x=${w - 30} y=${hgt - 4} font-size="11" fill="#6b6b70">now</text>
    <line x1="55" x2=${w - 5} y1=${hgt - 20} y2=${hgt - 20} stroke="#ddd" />
    ${series.map(
      (s) =>
        s.dots &&
        s.points
          .filter((p) => p.v !== null)
          .map(
            (p) =>
              html`<circle cx=${x(p.t).toFixed(1)} cy=${y(p.v).toFixed(1)} r="2" fill=${s.color} data-series=${s.label} />`,
          ),
    )}
    ${series.map((s) =>
      runs(s.points).map(
        (r) =>
          html`<polyline fill="none" stroke=${s.color} stroke-width="1.5" points=${r.length > 1 ? r.join(' ') : `${r[0]} ${r[0]}`} data-series=${s.label} />`,
      ),
    )}
    ${series.length > 1 && series.map((s, i) => html`<text x=${w - 140 + i * 60} y="14" font-size="11" fill=${s.color}>${s.label}</text>`)}
  </svg>`
}

/** Per-second rate of a counter between consecutive samples: `[{ t, v }]`. */
function ratePoints(samples, field) {
  const out = []
  for (let i = 1; i < samples.length; i++) {
    const dt = (samples[i].t - samples[i - 1].t) / 1000
    out.push({ t: samples[i].t, v: dt > 0 ? Math.max(0, samples[i][field] - samples[i - 1][field]) / dt : 0 })
  }
  return out
}

/** A labelled figure; `text` for a sentence rather than a number (set smaller). */
const card = (label, value, id, text = false) =>
  html`<div class="card"><div class="label">${label}</div><div class=${text ? 'value text' : 'value'} data-testid=${id}>${value}</div></div>`

const fmtAge = (ms) => (ms < 90_000 ? `${Math.round(ms / 1000)} s` : `${Math.round(ms / 60_000)} min`)
const fmtMs = (ms) => (ms < 1 ? `${(ms * 1000).toFixed(0)} µs` : `${ms.toFixed(ms < 10 ? 2 : 0)} ms`)

/**
 * The append rate, and fsync latency when the writer publishes its stats file. Its samples cover the
 * last minutes at once; without them, the rate comes from the inspector's own sampling since it
 * started (the last position, once a second).
 */
function Activity({ d }) {
  const st = d.stats
  const writer = st.state === 'ok' ? st.stats.samples.map((s) => ({ ...s, t: s.time })) : []
  const age = writer.length ? d.now - writer.at(-1).t : 0
  const stale = writer.length > 0 && age > 3 * st.stats.everyMs + 2000
  const own = d.rates.map((r) => ({ t: r.t, lastSeq: r.position }))
  const fromWriter = writer.length >= 2 && !stale
  const rateSamples = fromWriter ? writer : own
  const minutes = (samples) => Math.round(((samples.at(-1)?.t ?? 0) - (samples[0]?.t ?? 0)) / 60000) || '<1'
  const rates = ratePoints(rateSamples, 'lastSeq')
  // The writer's window percentiles only move when it fsyncs: a sample with no fsync since the last
  // shows nothing rather than a stale value.
  const latency = (field) =>
    writer.slice(1).map((s, i) => ({ t: s.t, v: s.fsyncs > writer[i].fsyncs ? s[field] : null }))
  const newest = writer.at(-1)
  return html`<div>
    <h2>Append rate (last ${minutes(rateSamples)} min)</h2>
    <${LineChart} series=${[{ label: 'appends/s', color: '#3454d1', points: rates }]} unit="/s" testid="rate-chart" />
    <div class="muted" data-testid="rate-source">${
      fromWriter
        ? `Records appended per second, from the writer's stats file (a sample every ${st.stats.everyMs / 1000} s); now ${(rates.at(-1)?.v ?? 0).toFixed(1)}/s.`
        : `Records appended per second, sampled by the inspector from the log's last position (once a second, since it started); now ${(rates.at(-1)?.v ?? 0).toFixed(1)}/s.`
    }</div>
    <h2>fsync latency${writer.length ? ` (last ${minutes(writer)} min)` : ''}</h2>
    ${
      st.state === 'ok'
        ? html`<div data-testid="fsync">
        <${LineChart} series=${[
          { label: 'p50', color: '#3454d1', points: latency('fsyncP50Ms'), dots: true },
          { label: 'p99', color: '#b3261e', points: latency('fsyncP99Ms'), dots: true },
        ]} unit=" ms" digits=${2} testid="fsync-chart" />
        <div class="muted" data-testid="fsync-now">Now p50 ${fmtMs(newest.fsyncP50Ms)}, p99 ${fmtMs(newest.fsyncP99Ms)} over the writer's latest 1024 fsyncs (${fmtInt(newest.fsyncs)} since it opened the log; ${(ratePoints(writer, 'fsyncs').at(-1)?.v ?? 0).toFixed(1)}/s); from its stats file, pid ${st.stats.pid}, a sample every ${st.stats.everyMs / 1000} s. A gap: no fsync in that interval.</div>
        ${stale && html`<div class="bad" data-testid="fsync-stale">The newest sample is ${fmtAge(age)} old: the writer is not publishing now (stopped, or gone).</div>`}
      </div>`
        : st.state === 'absent'
          ? html`<p class="muted" data-testid="fsync-absent">Only the writing process measures its fsyncs. It publishes them for the inspector when started with <span class="mono">publishStats(wal)</span> (<span class="mono">publishStats(store.wal)</span> for an event store; <span class="mono">@waltz/core</span>), which keeps its last ten minutes of metrics in <span class="mono">stats.wzs</span>; this one does not.</p>`
          : html`<p class="bad" data-testid="fsync-unreadable">The writer's stats file is unreadable: ${st.error}. A writer that publishes replaces it at its next sample.</p>`
    }
  </div>`
}

/** The archive, when the inspector was given it (`--archive`), and what retention removed locally. */
function Retention({ d }) {
  const removed = d.localFirstPosition > 1
  const st = d.stats.state === 'ok' ? d.stats.stats : undefined
  const a = d.archive
  return html`<div>
    <h2>Retention and archive</h2>
    <div class="cards">
      ${card(
        'Local log',
        removed
          ? `positions before ${fmtInt(d.localFirstPosition)} removed locally${a ? ', read from the archive' : ' (pass --archive to read them)'}`
          : 'whole log kept locally',
        'ov-retention',
        true,
      )}
      ${st && card("Writer's retention", `${fmtInt(st.retention.segmentsRemoved)} segment(s), ${fmtBytes(st.retention.bytesRemoved)} removed in ${fmtInt(st.retention.passes)} pass(es) since it opened`, 'ov-writer-retention', true)}
      ${
        a &&
        (a.error
          ? card('Archive', html`<span class="bad">${a.name}: ${a.error}</span>`, 'ov-archive', true)
          : [
              card('Archive', a.name, 'ov-archive', true),
              card('Archived', `${fmtInt(a.segments)} segment(s), ${fmtBytes(a.bytes)}`, 'ov-archived'),
              card('Oldest archived position', fmtInt(a.oldestPosition), 'ov-archive-oldest'),
              card(
                'Not archived yet',
                `${fmtInt(a.notArchived)} sealed local segment(s)`,
                'ov-not-archived',
                true,
              ),
            ])
      }
      ${st && (st.archive.archived > 0 || st.archive.pending > 0 || st.archive.failures > 0) && card("Writer's uploads", `${fmtInt(st.archive.archived)} archived, ${fmtInt(st.archive.pending)} pending, ${fmtInt(st.archive.failures)} failed since it opened`, 'ov-uploads', true)}
    </div>
    ${a && !a.error && html`<p class="muted">The archive's listing is from ${fmtAge(d.now - a.listedAt)} ago (listed at most every 15 s).</p>`}
    ${!a && html`<p class="muted" data-testid="ov-no-archive">No archive given (<span class="mono">waltz ui --archive DIR|s3://BUCKET/PREFIX</span>).</p>`}
  </div>`
}

function VerifyPanel({ initial }) {
  const [state, setState] = useState(initial)
  const [error, setError] = useState()
  useEffect(() => {
    if (state?.status !== 'running') return
    const timer = setInterval(() => api('/api/verify').then(setState, (e) => setError(e.message)), 300)
    return () => clearInterval(timer)
  }, [state?.status])
  const start = () => api('/api/verify', { method: 'POST' }).then(setState, (e) => setError(e.message))
  const s = state ?? { status: 'idle' }
  return html`<div data-testid="verify">
    <div class="bar">
      <button class="primary" onClick=${start} disabled=${s.status === 'running'} data-testid="verify-start">Verify the log</button>
      ${s.status === 'running' && html`<progress max=${s.total || 1} value=${s.scanned}></progress> <span>${s.scanned} / ${s.total || '?'} segments</span>`}
      ${
        s.status === 'done' &&
        html`<span class=${s.corruption.length ? 'bad' : 'ok'} data-testid="verify-result">${
          s.corruption.length
            ? `${s.corruption.length} problem(s) found`
            : `no problems: ${s.total} segments, ${fmtBytes(s.bytes)}`
        } (${((s.finishedAt - s.startedAt) / 1000).toFixed(1)} s)</span>`
      }
      ${s.status === 'failed' && html`<span class="bad">verify failed: ${s.error}</span>`}
    </div>
    ${
      s.status === 'done' &&
      s.corruption.length > 0 &&
      html`<table><tr><th>file</th><th class="num">offset</th><th>code</th><th>reason</th></tr>
      ${s.corruption.map((c) => html`<tr><td class="mono">${c.file}</td><td class="num">${c.offset}</td><td>${c.code}</td><td>${c.reason}</td></tr>`)}</table>`
    }
    <${ErrorBox} error=${error} />
  </div>`
}

function Overview() {
  const { data, error } = useApi(apiPath('overview'), 2000)
  if (!data) return html`<${ErrorBox} error=${error} />`
  const d = data
  return html`<div>
    <h1>Overview</h1>
    <div class="cards">
      ${card('Positions', `${fmtInt(d.firstPosition)} – ${fmtInt(d.lastPosition)}`, 'ov-range')}
      ${card('Segments', fmtInt(d.disk.segments.length), 'ov-segments')}
      ${card('Size on disk', fmtBytes(d.disk.totalBytes), 'ov-size')}
      ${card('Segments / index', `${fmtBytes(d.disk.segmentBytes)} / ${fmtBytes(d.disk.indexBytes)}`, 'ov-split')}
      ${card('Index tables', `${d.index.tables} (+${fmtInt(d.index.overlayRecords)} in memory)`, 'ov-index')}
      ${card('Writer', d.writer ? `pid ${d.writer.pid ?? '?'} ${d.writer.alive ? 'running' : 'gone (stale lock)'}` : 'none (no lock)', 'ov-writer')}
      ${card('Serializer', `${d.serializer ?? 'unknown'} · shown as ${d.decoder}`, 'ov-serializer', true)}
    </div>
    <${Activity} d=${d} />
    <${Retention} d=${d} />
    <h2>Verify</h2>
    <${VerifyPanel} initial=${d.verify} />
    <h2>Segments</h2>
    <table data-testid="segments"><tr><th>file</th><th class="num">first position</th><th class="num">size</th></tr>
      ${d.disk.segments
        .slice(-20)
        .reverse()
        .map(
          (s) =>
            html`<tr><td class="mono">${s.name}</td><td class="num">${fmtInt(s.firstSeq)}</td><td class="num">${fmtBytes(s.size)}</td></tr>`,
        )}
    </table>
    ${d.disk.segments.length > 20 && html`<p class="muted">The newest 20 of ${d.disk.segments.length} segments.</p>`}
    <${ErrorBox} error=${error} />
  </div>`
}

function Streams({ params }) {
  const prefix = params.get('prefix') ?? ''
  const after = params.get('after') ?? ''
  const [text, setText] = useState(prefix)
  useEffect(() => setText(prefix), [prefix])
  const { data, error } = useApi(apiPath('streams', params))
  const submit = (e) => {
    e.preventDefault()
    go('streams', { prefix: text })
  }
  return html`<div>
    <h1>Streams ${data && html`<span class="muted count" data-testid="streams-total">${fmtInt(data.total)} in the store</span>`}</h1>
    <form class="bar" onSubmit=${submit}>
      <input type="search" placeholder="stream name prefix" value=${text} onInput=${(e) => setText(e.target.value)} data-testid="stream-search" />
      <button type="submit" class="primary" data-testid="stream-search-go">Search</button>
      ${after && html`<button type="button" onClick=${() => go('streams', { prefix })}>First page</button>`}
      ${data?.next && html`<button type="button" onClick=${() => go('streams', { prefix, after: data.next })} data-testid="streams-next">Next page</button>`}
    </form>
    ${
      data &&
      html`<table data-testid="streams-table">
      <tr><th>stream</th><th class="num">revision</th><th>state</th><th class="num">last position</th><th>last event (UTC)</th></tr>
      ${data.streams.map(
        (s) => html`<tr data-testid="stream-row">
          <td><a href=${`#/stream?name=${encodeURIComponent(s.name)}`} class="mono">${s.name}</a></td>
          <td class="num">${fmtInt(s.revision)}</td>
          <td>${s.tombstoned ? html`<span class="pill marker">tombstoned</span>` : s.deletedRevision > 0 ? html`<span class="pill marker">deleted ≤ ${s.deletedRevision}</span>` : ''}</td>
          <td class="num">${fmtInt(s.lastPosition)}</td>
          <td class="mono">${fmtTime(s.lastTime)}</td>
        </tr>`,
      )}
    </table>
    ${data.streams.length === 0 && html`<p class="muted" data-testid="streams-empty">No stream ${prefix ? `starts with “${prefix}”` : 'yet'}.</p>`}`
    }
    <${ErrorBox} error=${error} />
  </div>`
}

function Data({ e }) {
  if (e.json !== undefined) return html`<pre data-testid="event-json">${e.json}</pre>`
  return html`<div>
    <div class="muted">${e.kind === 'event' ? 'hex' : 'marker'}, ${fmtInt(e.size)} bytes stored${e.size > e.hex.length / 2 ? `, first ${e.hex.length / 2} shown` : ''}${e.decodeError ? ` (not decoded: ${e.decodeError})` : ''}</div>
    <pre data-testid="event-hex">${e.hex.replace(/(.{64})/g, '$1\n')}</pre>
  </div>`
}

function EventsTable({ events, showStream }) {
  return html`<table data-testid="events-table">
    <tr>${showStream && html`<th>stream</th>`}<th class="num">revision</th><th class="num">position</th><th>type</th><th>time (UTC)</th><th>metadata</th><th>data</th></tr>
    ${events.map(
      (e) => html`<tr data-testid="event-row" key=${e.position}>
        ${showStream && html`<td><a class="mono" href=${`#/stream?name=${encodeURIComponent(e.stream)}`}>${e.stream}</a></td>`}
        <td class="num">${e.kind === 'other' ? '–' : fmtInt(e.revision)}</td>
        <td class="num">${fmtInt(e.position)}</td>
        <td><span class=${`pill ${e.kind === 'event' ? '' : 'marker'}`} data-testid="event-type">${e.type}</span>${e.live ? html` <span class="pill live">live</span>` : ''}</td>
        <td class="mono">${fmtTime(e.time)}</td>
        <td class="mono">${Object.keys(e.metadata).length ? Object.entries(e.metadata).map(([k, v]) => html`<div>${k}: ${v}</div>`) : ''}</td>
        <td><${Data} e=${e} /></td>
      </tr>`,
    )}
  </table>`
}

function Stream({ params }) {
  const name = params.get('name') ?? ''
  const direction = params.get('direction') ?? 'forwards'
  const from = params.get('from') ?? ''
  const { data, error } = useApi(apiPath('stream', params))
  const s = data?.stream
  return html`<div>
    <h1>Stream <span class="mono" data-testid="stream-name">${name}</span></h1>
    ${data && !s && html`<p class="muted">No such stream.</p>`}
    ${
      s &&
      html`<div class="cards">
      <div class="card"><div class="label">Revision</div><div class="value" data-testid="stream-revision">${fmtInt(s.revision)}</div></div>
      <div class="card"><div class="label">Last position</div><div class="value">${fmtInt(s.lastPosition)}</div></div>
      <div class="card"><div class="label">State</div><div class="value">${s.tombstoned ? 'tombstoned' : s.deletedRevision ? `deleted up to ${s.deletedRevision}` : 'live'}</div></div>
    </div>`
    }
    ${
      s &&
      html`<div class="bar spaced">
      <button onClick=${() => go('stream', { name, direction: 'forwards' })} disabled=${direction === 'forwards' && !from}>Oldest first</button>
      <button onClick=${() => go('stream', { name, direction: 'backwards' })} disabled=${direction === 'backwards' && !from} data-testid="newest-first">Newest first</button>
      ${data.next !== undefined && html`<button onClick=${() => go('stream', { name, direction, from: data.next })} data-testid="stream-next">Next page</button>`}
      ${data.removed > 0 && html`<span class="muted">${data.removed} event(s) of this page were removed by retention</span>`}
    </div>`
    }
    ${data && html`<${EventsTable} events=${data.events} />`}
    <${ErrorBox} error=${error} />
  </div>`
}

/** Newest first, with a live tail (server-sent events) prepended above the stored page. */
function All({ params }) {
  const prefix = params.get('prefix') ?? ''
  const types = params.get('types') ?? ''
  const from = params.get('from') ?? ''
  const [text, setText] = useState({ prefix, types })
  const [live, setLive] = useState([])
  const [following, setFollowing] = useState(false)
  const [connected, setConnected] = useState(false)
  const source = useRef()
  useEffect(() => setText({ prefix, types }), [prefix, types])
  const { data, error } = useApi(apiPath('all', params))
  useEffect(() => {
    setLive([])
    setConnected(false)
    if (!following) return
    const es = new EventSource(`/api/tail?${new URLSearchParams({ prefix, types })}`)
    source.current = es
    es.addEventListener('ready', () => setConnected(true))
    es.addEventListener('error', () => setConnected(false))
    es.addEventListener('record', (m) => {
      const e = { ...JSON.parse(m.data), live: true }
      setLive((list) => [e, ...list].slice(0, 200)) // the newest 200 only
    })
    return () => es.close()
  }, [following, prefix, types])
  const submit = (e) => {
    e.preventDefault()
    go('all', text)
  }
  return html`<div>
    <h1>All events</h1>
    <form class="bar" onSubmit=${submit}>
      <input type="search" placeholder="stream prefix" value=${text.prefix} onInput=${(e) => setText({ ...text, prefix: e.target.value })} data-testid="all-prefix" />
      <input type="text" placeholder="types, comma-separated" value=${text.types} onInput=${(e) => setText({ ...text, types: e.target.value })} data-testid="all-types" />
      <button type="submit" class="primary">Filter</button>
      <label><input type="checkbox" checked=${following} onChange=${(e) => setFollowing(e.target.checked)} data-testid="live-toggle" /> live tail</label>
      ${following && (connected ? html`<span class="pill live" data-testid="live-on">following new events (${live.length})</span>` : html`<span class="muted">connecting…</span>`)}
      ${data?.next !== undefined && html`<button type="button" onClick=${() => go('all', { prefix, types, from: data.next })} data-testid="all-older">Older</button>`}
      ${from && html`<button type="button" onClick=${() => go('all', { prefix, types })}>Newest</button>`}
    </form>
    ${live.length > 0 && html`<h2>Live</h2><div data-testid="live-table"><${EventsTable} events=${live} showStream=${true} /></div>`}
    ${
      data &&
      html`<h2>Stored, newest first</h2><${EventsTable} events=${data.records} showStream=${true} />
    ${data.records.length === 0 && html`<p class="muted">Nothing matches${data.next !== undefined ? ' in the records scanned; try Older' : ''}.</p>`}`
    }
    <${ErrorBox} error=${error} />
  </div>`
}

function Consumers() {
  const { data, error } = useApi(apiPath('consumers'), 2000)
  return html`<div>
    <h1>Consumers</h1>
    <p class="muted">Durable consumers' checkpoints (<span class="mono">consumers/*.ckpt</span>) and how far behind the log's last position (${fmtInt(data?.lastPosition)}) they are.</p>
    ${
      data &&
      html`<table data-testid="consumers-table">
      <tr><th>consumer</th><th class="num">checkpoint</th><th class="num">lag</th><th>state</th></tr>
      ${data.consumers.map(
        (c) => html`<tr data-testid="consumer-row">
          <td class="mono">${c.name}</td>
          <td class="num" data-testid="consumer-position">${fmtInt(c.position)}</td>
          <td class="num" data-testid="consumer-lag">${fmtInt(c.lag)}</td>
          <td>${c.error ? html`<span class="bad">${c.error}</span>` : c.lag === 0 ? html`<span class="ok">caught up</span>` : 'behind'}</td>
        </tr>`,
      )}
    </table>
    ${data.consumers.length === 0 && html`<p class="muted">No durable consumer has stored a checkpoint.</p>`}`
    }
    <${ErrorBox} error=${error} />
  </div>`
}

function App() {
  const route = useRoute()
  const info = useApi('/api/info')
  const pages = { overview: Overview, streams: Streams, stream: Stream, all: All, consumers: Consumers }
  const Page = pages[route.page] ?? Overview
  return html`<div>
    <${Header} page=${route.page === 'stream' ? 'streams' : route.page} dir=${info.data?.dir} />
    <main><${Page} params=${route.params} key=${route.page} /></main>
  </div>`
}

// With the first data already here, the first render shows it: its answer is handed over in
// microtasks, before the browser lays out and paints, so the page is drawn once, complete.
await settled(300)
const root = document.getElementById('app')
root.textContent = '' // the "Loading…" placeholder
render(html`<${App} />`, root)
