import { defineConfig } from 'vitest/config'
import base from '../vitest.config.ts'

/** `npm run test:netns`: the network-namespace suite (root, iproute2; nftables is installed if missing). One file at a time: they share the test subnet. */
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ['test/netns/**/*.test.ts', 'test/integration/netns.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 360_000,
    maxWorkers: 1,
    fileParallelism: false
  }
})
