// An order of n lines fans out to n items (ids <entry>.0 … <entry>.<n-1>: the same on a replay).
interface Order { order: string, lines: Array<{ sku: string, qty: number }> }

export default function split (order: Order): Array<{ order: string, sku: string, qty: number }> {
  return order.lines.map(line => ({ order: order.order, ...line }))
}
