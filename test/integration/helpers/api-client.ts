import { SignJWT } from 'jose'

/** An HS256 bearer token for `sub` with `scopes`, expiring in `expiresIn` (jose's notation, e.g. '5m' or a past '-1m'). */
export async function bearer (secret: string, sub: string, scopes: string[], expiresIn = '5m'): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  const exp = expiresIn.startsWith('-') ? now - 60 : expiresIn
  return await new SignJWT({ scope: scopes.join(' ') }).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setIssuedAt(now - 120).setExpirationTime(exp).sign(new TextEncoder().encode(secret))
}

export interface SseEvent {
  id?: string
  event: string
  data: unknown
}

/**
 * Reads server-sent events from `url` until the stream ends, `stop(events)` says so (the connection is
 * then closed by the client), or `timeoutMs` passes (an error).
 */
export async function readEvents (url: string, headers: Record<string, string>, stop: (events: SseEvent[]) => boolean = () => false, timeoutMs = 20_000): Promise<{ status: number, events: SseEvent[] }> {
  const abort = new AbortController()
  const timer = setTimeout(() => { abort.abort(new Error(`no end of the event stream within ${timeoutMs} ms`)) }, timeoutMs)
  const events: SseEvent[] = []
  try {
    const res = await fetch(url, { headers, signal: abort.signal })
    if (res.status !== 200 || res.body == null) return { status: res.status, events }
    const reader = res.body.getReader()
    const decoder = new TextDecoder()
    let buffer = ''
    while (true) {
      const { value, done } = await reader.read()
      if (done) return { status: 200, events }
      buffer += decoder.decode(value, { stream: true })
      let end: number
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const event = parseBlock(buffer.slice(0, end))
        buffer = buffer.slice(end + 2)
        if (event == null) continue
        events.push(event)
        if (stop(events)) {
          // the client hangs up, as a reader that lost its connection would
          await reader.cancel().catch(() => {})
          return { status: 200, events }
        }
      }
    }
  } finally {
    clearTimeout(timer)
  }
}

function parseBlock (block: string): SseEvent | undefined {
  let id: string | undefined
  let event = 'message'
  const data: string[] = []
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) continue
    const colon = line.indexOf(':')
    const field = colon < 0 ? line : line.slice(0, colon)
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
    if (field === 'id') id = value
    else if (field === 'event') event = value
    else if (field === 'data') data.push(value)
  }
  if (data.length === 0) return undefined
  return { id, event, data: JSON.parse(data.join('\n')) }
}
