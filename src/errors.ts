/**
 * Every failure gridd reports is a GridError subclass with a stable `code`
 * (match on `code`, never on message text) and whether retrying may help.
 * Each code is exported as a constant beside its class; the classes live in
 * src/errors/ by area, and this module is where everyone imports them from.
 */
export { GridError } from './errors/base.ts'
export * from './errors/node.ts'
export * from './errors/work.ts'
export * from './errors/trust.ts'
export * from './errors/tasks.ts'
export * from './errors/api.ts'
export * from './errors/deployments.ts'
