import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { defineAddon } from '../../../src/addons/index.ts'
import { loadAddon, parseAddonSpec } from '../../../src/cli/addon-spec.ts'
import { ConfigError } from '../../../src/errors.ts'

describe('defineAddon', () => {
  it('returns a frozen add-on with its own copy of the dependencies', () => {
    const dependencies = ['db']
    const addon = defineAddon({ name: 'api.v2_x-1', dependencies, start: () => {} })
    dependencies.push('cache')
    expect(addon.dependencies).toEqual(['db'])
    expect(Object.isFrozen(addon)).toBe(true)
    expect(defineAddon({ name: 'bare', start: () => {} }).dependencies).toEqual([])
  })

  it.each([
    ['an empty name', { name: '', start: () => {} }],
    ['a name with spaces', { name: 'my addon', start: () => {} }],
    ['a name of 65 characters', { name: 'a'.repeat(65), start: () => {} }],
    ['no start', { name: 'x' }],
    ['a stop that is not a function', { name: 'x', start: () => {}, stop: 1 }],
    ['dependencies that are not names', { name: 'x', start: () => {}, dependencies: [1] }],
    ['dependencies that are not an array', { name: 'x', start: () => {}, dependencies: 'db' }]
  ])('refuses %s with ERR_CONFIG', (_what, addon) => {
    expect(() => defineAddon(addon as never)).toThrow(expect.objectContaining({ code: 'ERR_CONFIG' }))
  })

  it.each([
    ['a misspelt stop (the add-on would never be stopped)', { name: 'x', start: () => {}, stpo: () => {} }, 'addon x.stpo'],
    ['a misspelt dependencies (it would start before them)', { name: 'x', start: () => {}, dependecies: ['db'] }, 'addon x.dependecies']
  ])('refuses %s, naming it', (_what, addon, option) => {
    expect(() => defineAddon(addon as never)).toThrow(expect.objectContaining({ code: 'ERR_CONFIG', option, message: expect.stringContaining('unknown option (known: name, dependencies, start, stop)') }))
  })
})

describe('parseAddonSpec', () => {
  it.each([
    ['./my-addon.ts', { module: './my-addon.ts', options: {} }],
    ['./my-addon.ts:{"greeting":"hi","n":2}', { module: './my-addon.ts', options: { greeting: 'hi', n: 2 } }],
    ['@scope/pkg:[1,2]', { module: '@scope/pkg', options: [1, 2] }],
    ['C:/addons/x.mjs', { module: 'C:/addons/x.mjs', options: {} }],
    ['/abs/x.mjs:{"url":"http://a:1/{x}"}', { module: '/abs/x.mjs', options: { url: 'http://a:1/{x}' } }]
  ])('%s', (spec, expected) => {
    expect(parseAddonSpec(spec)).toEqual(expected)
  })

  it('refuses options that are not JSON, and a spec without a module', () => {
    expect(() => parseAddonSpec('./x.ts:{greeting:hi}')).toThrow(ConfigError)
    expect(() => parseAddonSpec('./x.ts:{greeting:hi}')).toThrow(/not valid JSON/)
    expect(() => parseAddonSpec(':{"a":1}')).toThrow(/no module/)
  })
})

describe('loadAddon', () => {
  let dir: string

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gridd-addon-unit-'))
    await writeFile(join(dir, 'good.mjs'), "export default { name: 'good', start () {} }\n")
    await writeFile(join(dir, 'named-only.mjs'), "export const addon = { name: 'named', start () {} }\n")
    await writeFile(join(dir, 'throws.mjs'), "throw new Error('module body failed')\n")
  })

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('imports a default export, relative to the working directory or absolute', async () => {
    expect((await loadAddon('./good.mjs', dir)).name).toBe('good')
    expect((await loadAddon(join(dir, 'good.mjs'), '/')).name).toBe('good')
  })

  it('refuses a module without a default add-on, a missing file and a module that throws, with ERR_CONFIG', async () => {
    await expect(loadAddon('./named-only.mjs', dir)).rejects.toThrow(/no default export made with defineAddon/)
    await expect(loadAddon('./missing.mjs', dir)).rejects.toThrow(/cannot load "\.\/missing\.mjs"/)
    await expect(loadAddon('./throws.mjs', dir)).rejects.toThrow(/module body failed/)
    await expect(loadAddon('./missing.mjs', dir)).rejects.toMatchObject({ code: 'ERR_CONFIG' })
  })
})
