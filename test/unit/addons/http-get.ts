import { request } from 'node:http'

/** GET `path` on `url` with these headers (Host included: fetch would not let a test forge it); resolves with the status code. */
export async function statusOf (url: string, path: string, headers: Record<string, string>): Promise<number> {
  return await new Promise((resolve, reject) => {
    const req = request(new URL(path, url), { headers }, res => { res.resume(); resolve(res.statusCode ?? 0) })
    req.on('error', reject)
    req.end()
  })
}
