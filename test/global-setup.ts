import { bundle } from '../scripts/bundle.ts'

/** Integration tests start `grid node` the way users do, through bin/grid.js: make its bundle match these sources. */
export default async function setup (): Promise<void> {
  await bundle()
}
