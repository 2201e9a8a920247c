#!/usr/bin/env -S node --max-semi-space-size=1
// The flag: a daemon idles most of its life, and a 1 MB young generation
// (V8 sizes it for throughput by default) keeps an idle node ~25 MB smaller.
import { main } from '../src/cli/index.ts'

await main(process.argv)
