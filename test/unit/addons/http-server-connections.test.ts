import { it, expect } from 'vitest'
import { connect } from 'node:net'
import type { Socket } from 'node:net'
import { once } from 'node:events'
import { serveHttp, MAX_CONNECTIONS } from '../../../src/addons/http-server.ts'

it('an add-on server holds at most MAX_CONNECTIONS connections: one more is closed at once, and it answers again once they go', async () => {
  const endpoint = await serveHttp('test', (_req, res) => { res.end('ok') }, { port: 0 })
  const port = Number(new URL(endpoint.origin).port)
  const sockets: Socket[] = []
  try {
    for (let i = 0; i < MAX_CONNECTIONS; i++) {
      const socket = connect(port, '127.0.0.1')
      await once(socket, 'connect')
      sockets.push(socket)
    }
    // held idle (no request): the next one is accepted by the kernel and closed by the server
    const extra = connect(port, '127.0.0.1')
    sockets.push(extra)
    await once(extra, 'close')
    for (const socket of sockets.splice(0)) socket.destroy()
    let answered = ''
    for (let attempt = 0; attempt < 50 && answered !== 'ok'; attempt++) {
      answered = await fetch(`${endpoint.origin}/`).then(async res => await res.text(), () => '')
      if (answered !== 'ok') await new Promise(resolve => setTimeout(resolve, 20))
    }
    expect(answered).toBe('ok')
  } finally {
    for (const socket of sockets) socket.destroy()
    await endpoint.close()
  }
})
