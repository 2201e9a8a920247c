export { defineAddon } from './addon.ts'
export type { Addon, AddonContext, AddonInstance } from './addon.ts'
