import { defineAddon } from '../addons/addon.ts'
import { startDashboard } from './server.ts'
import type { DashboardOptions } from './server.ts'
import { checkKnownKeys } from '../checks/check.ts'

/** The built-in dashboard as an add-on: `node.use(dashboardAddon, { port: 8080 })` or `grid node --dashboard 8080`. */
export const dashboardAddon = defineAddon<DashboardOptions>({
  name: 'dashboard',
  async start (ctx, options) {
    checkKnownKeys<DashboardOptions>('dashboard', options, { host: true, port: true, intervalMs: true, maxClients: true, allowedHosts: true, maxBufferedBytes: true })
    const dashboard = await startDashboard(ctx, options, ctx.log)
    return { url: dashboard.url, stop: dashboard.close }
  }
})
