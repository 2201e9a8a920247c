// An I/O-bound stage for bench:equalizer: waits `ms` (or `slowMs` once the
// item says the downstream slowdown has begun), like a call to a remote API.
export default async function sleep (item) {
  await new Promise(resolve => setTimeout(resolve, item.ms))
  return { ...item, pid: process.pid }
}
