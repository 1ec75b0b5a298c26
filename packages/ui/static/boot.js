// The first thing the page runs (inline in the page's head, before the modules have loaded): it
// starts the API requests the page first shows, so that their answers arrive while the browser is
// still fetching and compiling the modules, instead of after the first render. app.js builds its
// requests with the same `apiPath` and picks these up by path. No imports, no DOM: it runs at once.
;(() => {
  /** The API request behind each page, from the page's parameters (the hash's query). */
  function apiPath(page, params) {
    const get = (name) => params.get(name) ?? ''
    const query = (entries) => new URLSearchParams(entries.filter(([, v]) => v !== '')).toString()
    switch (page) {
      case 'streams':
        return `/api/streams?${query([
          ['prefix', get('prefix')],
          ['after', get('after')],
          ['limit', '50'],
        ])}`
      case 'stream':
        return `/api/stream?${query([
          ['name', get('name')],
          ['direction', get('direction') || 'forwards'],
          ['limit', '50'],
          ['from', get('from')],
        ])}`
      case 'all':
        return `/api/all?${query([
          ['direction', 'backwards'],
          ['limit', '50'],
          ['prefix', get('prefix')],
          ['types', get('types')],
          ['from', get('from')],
        ])}`
      case 'consumers':
        return '/api/consumers'
      default:
        return '/api/overview'
    }
  }

  /** The route in the hash: `#/streams?prefix=x` → page `streams`, its parameters. */
  function route() {
    const [path, q = ''] = location.hash.replace(/^#\/?/, '').split('?')
    return { page: path || 'overview', params: new URLSearchParams(q) }
  }

  /** A response, its body parsed: `{ ok, status, statusText, body }` (an error body when not JSON). */
  async function read(res) {
    const body = await res.json().catch(() => ({ error: `${res.status} ${res.statusText}` }))
    return { ok: res.ok, status: res.status, body }
  }

  /** Requests under way, by path, each resolving to its parsed answer; taken once each. */
  const early = new Map()
  const { page, params } = route()
  for (const path of ['/api/info', apiPath(page, params)]) {
    early.set(
      path,
      fetch(path).then(read, (err) => ({ ok: false, status: 0, body: { error: err.message } })),
    )
  }
  window.waltzBoot = {
    apiPath,
    route,
    read,
    /** The early answer for `path`, if one was asked for and not taken yet. */
    take(path) {
      const answer = early.get(path)
      early.delete(path)
      return answer
    },
    /**
     * Resolves once the early requests have answered, or after `ms`: the page renders first with its
     * data, in one layout and paint, rather than empty and again when the data comes.
     */
    settled(ms) {
      return Promise.race([Promise.all(early.values()), new Promise((resolve) => setTimeout(resolve, ms))])
    },
  }
})()
