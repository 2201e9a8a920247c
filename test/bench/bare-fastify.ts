/**
 * The baseline of `npm run bench:api`, in its own process as the API is in
 * the grid node's: a bare Fastify route answering `{}` to a POST with a JSON
 * body. Prints its URL on stdout; exits when stdin closes.
 */
import Fastify from 'fastify'

const app = Fastify()
app.post('/', async () => ({}))
await app.listen({ port: 0, host: '127.0.0.1' })
const address = app.server.address()
process.stdout.write(`http://127.0.0.1:${typeof address === 'object' && address != null ? address.port : 0}/\n`)
process.stdin.resume()
process.stdin.on('end', () => { void app.close().then(() => process.exit(0)) })
