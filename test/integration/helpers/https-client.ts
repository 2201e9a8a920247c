import { request } from 'node:https'
import { request as httpRequest } from 'node:http'
import { Agent } from 'node:https'
import type { RequestOptions } from 'node:https'
import WebSocket from 'ws'

/** A client certificate and key (PEM), with the grid CA that checks the node's certificate. */
export interface ClientPair {
  ca: string
  cert: string
  key: string
}

/** A bearer token, sent as `Authorization: Bearer` over HTTP (or over HTTPS, the node's certificate checked against `ca`). */
export interface BearerClient {
  token: string
  ca?: string
}

/** How a live stream's client authenticates: a client certificate, or a bearer token. */
export type StreamClient = ClientPair | BearerClient

/** The request options that present `client`'s credential: its certificate, or its token's header. */
function presenting (client: StreamClient): RequestOptions {
  const tls = { ca: client.ca, checkServerIdentity: () => undefined }
  return 'token' in client ? { ...tls, headers: { authorization: `Bearer ${client.token}` } } : { ...tls, cert: client.cert, key: client.key }
}

export interface HttpsAnswer {
  status: number
  json: any
  /** The connection it went on (an agent's keep-alive connection is the same object from request to request). */
  socket: object
}

/**
 * One HTTPS request to an API node presenting `pair`; a fresh connection unless `agent` (a keep-alive agent
 * made with the same pair) is given. The node's certificate names the node, not 127.0.0.1: the CA is what is checked.
 */
export async function httpsCall (base: string, pair: ClientPair, method: string, path: string, options: { body?: unknown, agent?: Agent } = {}): Promise<HttpsAnswer> {
  return await new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, {
      method,
      ...(options.agent == null ? { agent: false, ca: pair.ca, cert: pair.cert, key: pair.key } : { agent: options.agent }),
      checkServerIdentity: () => undefined,
      headers: options.body === undefined ? {} : { 'content-type': 'application/json' }
    }, res => {
      let text = ''
      res.setEncoding('utf8').on('data', (chunk: string) => { text += chunk }).on('end', () => {
        resolve({ status: res.statusCode ?? 0, json: text === '' ? undefined : JSON.parse(text), socket: res.socket })
      })
    })
    req.on('error', reject)
    req.end(options.body === undefined ? undefined : JSON.stringify(options.body))
  })
}

/** A WebSocket to `/v1/ws` presenting `client`, open, with every message it got and how it closed. */
export async function openWs (base: string, client: StreamClient): Promise<{ socket: WebSocket, messages: any[], closed: Promise<{ code: number, reason: string }> }> {
  const socket = new WebSocket(`${base.replace(/^http/, 'ws')}/v1/ws`, presenting(client))
  const messages: any[] = []
  socket.on('message', data => messages.push(JSON.parse(String(data))))
  const closed = new Promise<{ code: number, reason: string }>(resolve => { socket.once('close', (code, reason) => { resolve({ code, reason: String(reason) }) }) })
  await new Promise<void>((resolve, reject) => { socket.once('open', resolve).once('error', reject) })
  return { socket, messages, closed }
}

/** An event stream (SSE) at `path` presenting `client`: its status, the raw text so far, and when the node ended it. */
export async function openSse (base: string, client: StreamClient, path: string): Promise<{ status: number, text: () => string, ended: Promise<void>, destroy: () => void }> {
  return await new Promise((resolve, reject) => {
    const req = (base.startsWith('https:') ? request : httpRequest)(`${base}${path}`, { agent: false, ...presenting(client) }, res => {
      let text = ''
      res.setEncoding('utf8').on('data', (chunk: string) => { text += chunk })
      const ended = new Promise<void>(resolve => { res.once('end', resolve).once('close', resolve) })
      resolve({ status: res.statusCode ?? 0, text: () => text, ended, destroy: () => { req.destroy() } })
    })
    req.on('error', reject)
    req.end()
  })
}

/**
 * GET `path` every `everyMs` on one keep-alive connection (the node closes one idle for 5 s), as a polling
 * client does, until `stop`: each answer with the connection it came on.
 */
export function pollKeptAlive (base: string, pair: ClientPair, path: string, everyMs = 1000): { answers: HttpsAnswer[], stop: () => Promise<void> } {
  const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: pair.ca, cert: pair.cert, key: pair.key })
  const answers: HttpsAnswer[] = []
  let stopped = false
  const loop = (async () => {
    while (!stopped) {
      answers.push(await httpsCall(base, pair, 'GET', path, { agent }))
      await new Promise(resolve => setTimeout(resolve, everyMs))
    }
  })()
  return {
    answers,
    stop: async () => {
      stopped = true
      await loop.finally(() => { agent.destroy() })
    }
  }
}
