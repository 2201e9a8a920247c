/** The least-squares slope of y over x (null with fewer than 2 points or no spread in x). */
export function slope (points: Array<[number, number]>): number | null {
  const pts = points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y))
  if (pts.length < 2) return null
  const mx = pts.reduce((s, [x]) => s + x, 0) / pts.length
  const my = pts.reduce((s, [, y]) => s + y, 0) / pts.length
  let sxy = 0
  let sxx = 0
  for (const [x, y] of pts) {
    sxy += (x - mx) * (y - my)
    sxx += (x - mx) ** 2
  }
  return sxx === 0 ? null : sxy / sxx
}
