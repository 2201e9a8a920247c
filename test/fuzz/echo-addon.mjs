// An add-on with its own libp2p protocol (echoes the request), so the fuzzer also reaches the add-on request path.
export default {
  name: 'fuzz-echo',
  async start (ctx) {
    await ctx.handle('/gridd-fuzz/echo/1.0.0', request => request)
  }
}
