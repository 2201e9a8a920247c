export { decide, INITIAL_STATE, SATURATION_HEADROOM } from './decide.ts'
export type { EqualizerInput, EqualizerConfig, EqualizerState, Decision } from './decide.ts'
