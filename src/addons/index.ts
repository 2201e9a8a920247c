export { defineAddon } from './addon.ts'
export type { Addon, AddonContext, AddonInfo, AddonInstance, AddonHandleOptions } from './addon.ts'
export type { AddonHost, AddonTasks } from './host.ts'
