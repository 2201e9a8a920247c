// Splits a batch of raw log text into one record per line: a fan-out stage.
export default function parse (chunk) {
  return chunk.split('\n').filter(line => line.trim() !== '').map(line => {
    const [time, level, service, ...words] = line.split(' ')
    return { time, level, service, message: words.join(' ') }
  })
}
