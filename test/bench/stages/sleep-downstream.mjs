// The downstream stage of bench:equalizer's slowdown scenario: waits `downMs`.
export default async function sleepDownstream (item) {
  await new Promise(resolve => setTimeout(resolve, item.downMs))
  return item
}
