import { defineConfig } from 'vitest/config'
import { fileURLToPath } from 'node:url'

/** `npm run test:netns`: the network-namespace suite (root, iproute2; nftables is installed if missing). One file at a time: they share the test subnet. */
export default defineConfig({
  test: {
    root: fileURLToPath(new URL('../..', import.meta.url)),
    globalSetup: ['test/global-setup.ts'],
    include: ['test/netns/**/*.test.ts', 'test/integration/netns.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 360_000,
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false
  }
})
