import { describe, it, expect } from 'vitest'
import { checkModulePath } from '../../../src/owner/module-source.ts'
import { packDeployment } from '../../../src/deployments/pack.ts'
import { DeploymentsPart } from '../../../src/deployments/node-part.ts'
import type { DeploymentsPartDeps } from '../../../src/deployments/node-part.ts'
import { ConfigError } from '../../../src/errors.ts'

// What a JS caller (or one casting) may pass where a path is wanted: node.workers.spawn({ module }),
// a task pool's module, node.deploy(name, file). Each reached path.resolve, whose TypeError
// (ERR_INVALID_ARG_TYPE, 'The "paths[0]" argument must be of type string') is no GridError and names no option.
const notPaths: unknown[] = [undefined, 5, {}, '']

describe('a module or definition path that is no string is refused with a ConfigError naming it', () => {
  it.each(notPaths)('stage and task modules (node.workers.spawn, task pools): %o', async (module) => {
    const err = await checkModulePath(module as string).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ConfigError)
    expect(err).toMatchObject({ code: 'ERR_CONFIG', option: 'module' })
  })

  it.each(notPaths)('node.deploy\'s definition file: %o', async (file) => {
    const err = await packDeployment(file as string).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ConfigError)
    expect(err).toMatchObject({ code: 'ERR_CONFIG', option: 'file' })
  })

  it('node.deploy\'s signal must be an AbortSignal (it was called as one: "throwIfAborted is not a function")', async () => {
    // refused before the part is asked for its service: no node needed
    const part = new DeploymentsPart({} as DeploymentsPartDeps)
    const err = await part.deploy('thumbs', '/srv/p.mjs', { signal: 'soon' as unknown as AbortSignal }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ConfigError)
    expect(err).toMatchObject({ code: 'ERR_CONFIG', option: 'signal' })
  })
})
