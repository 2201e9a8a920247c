import { describe, it, expect } from 'vitest'
import { readFileSync, readdirSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'
import { StatefulSet } from 'kubernetes-models/apps/v1'
import { nodeCommand } from '../../../src/cli/commands/node.ts'
import { deploy, k8s, kustomization, resourcesOf, patchesOf, byKind, hasKubectl, build, validate } from './kustomize.ts'
import type { Obj } from './kustomize.ts'

/** Every `--flag` of `grid node` (commander's long names). */
const NODE_FLAGS = new Set(nodeCommand().options.map(o => o.long))
const flagsOf = (args: string[]): string[] => args.filter(a => a.startsWith('--')).map(a => a.split('=')[0]!)
/** The variable `grid node` reads for a flag (commander's .env()). */
const envOf = (long: string): string | undefined => nodeCommand().options.find(o => o.long === long)?.envVar

const base = resourcesOf('base').map(r => r.object)
const envByName = (container: Obj): Obj => Object.fromEntries((container.env as Obj[]).map(e => [e.name, e]))

describe('Kubernetes manifests: deploy/k8s/base (what both certificate paths share)', () => {
  it('every resource validates against the Kubernetes schema of its kind', () => {
    const all = resourcesOf('base')
    expect(all.length).toBe(5)
    for (const { file, object } of all) expect(() => { validate(object) }, file).not.toThrow()
  })

  it('the validation can fail: a StatefulSet with a string replica count is refused', () => {
    const broken = structuredClone(byKind(base, 'StatefulSet', 'gridd-agent'))
    broken.spec.replicas = 'three'
    expect(() => { new StatefulSet(broken).validate() }).toThrow()
  })

  it('agents: a StatefulSet behind a headless Service publishing not-ready addresses, probes on --health, requests mapped to --cpu/--memory, a preStop leave, a PodDisruptionBudget', () => {
    const set = byKind(base, 'StatefulSet', 'gridd-agent')
    const service = byKind(base, 'Service', set.spec.serviceName)
    expect(service.spec).toMatchObject({ clusterIP: 'None', publishNotReadyAddresses: true })
    expect(service.spec.selector).toEqual(set.spec.template.metadata.labels)
    const container = set.spec.template.spec.containers[0]
    expect(container.args[0]).toBe('node')
    for (const flag of flagsOf(container.args)) expect(NODE_FLAGS.has(flag), flag).toBe(true)
    expect(container.args).toContain('--agent')
    const env = envByName(container)
    expect(env.GRID_CPU.valueFrom.resourceFieldRef).toMatchObject({ resource: 'requests.cpu' })
    expect(env.GRID_MEMORY.valueFrom.resourceFieldRef).toMatchObject({ resource: 'requests.memory', divisor: '1Mi' })
    expect([envOf('--cpu'), envOf('--memory')]).toEqual(['GRID_CPU', 'GRID_MEMORY'])
    const healthPort = Number(container.args.find((a: string) => a.startsWith('--health='))!.split('=')[1])
    const named = (container.ports as Obj[]).find(p => p.name === container.livenessProbe.httpGet.port)
    expect(named?.containerPort).toBe(healthPort)
    expect(container.livenessProbe.httpGet.path).toBe('/healthz')
    expect(container.readinessProbe.httpGet.path).toBe('/readyz')
    expect(container.args).toContain('--health-host=0.0.0.0')
    expect(container.lifecycle.preStop.exec.command.join(' ')).toMatch(/kill -TERM 1/)
    const pdb = byKind(base, 'PodDisruptionBudget', 'gridd-agent')
    expect(pdb.spec.selector.matchLabels).toEqual(set.spec.template.metadata.labels)
    expect(set.spec.template.spec.securityContext).toMatchObject({ runAsNonRoot: true })
  })

  it('the seed: its flags are grid node\'s; no certificate source of its own (the overlays give one)', () => {
    const container = byKind(base, 'StatefulSet', 'gridd-seed').spec.template.spec.containers[0]
    for (const flag of flagsOf(container.args)) expect(NODE_FLAGS.has(flag), flag).toBe(true)
    expect(flagsOf(container.args).filter(f => ['--certs', '--join', '--ca-key', '--ca', '--cert', '--key'].includes(f))).toEqual([])
  })
})

describe('Kubernetes manifests: deploy/k8s/join-token (a seed holding the CA key, agents joining with a token)', () => {
  const patches = patchesOf('join-token')

  it('the kustomization builds on the base; its secret files are the operator\'s (secrets/, git-ignored)', () => {
    const spec = kustomization('join-token')
    expect(spec.resources).toEqual(['../base'])
    for (const p of spec.patches as Array<{ path: string }>) expect(existsSync(join(k8s, 'join-token', p.path)), p.path).toBe(true)
    const secretFiles = (spec.secretGenerator as Obj[]).flatMap(g => g.files as string[])
    expect(secretFiles.every(f => f.startsWith('secrets/'))).toBe(true)
    expect(readFileSync(join(deploy, '..', '.gitignore'), 'utf8')).toMatch(/^deploy\/k8s\/\*\/secrets\/$/m)
  })

  it('agents: the token from a Secret (GRID_JOIN_TOKEN, --join); the seed: its pair and the CA key copied from its Secret (keys 0600), --ca-key, the join port exposed', () => {
    const agent = byKind(patches, 'StatefulSet', 'gridd-agent').spec.template.spec.containers[0]
    expect(envOf('--join')).toBe('GRID_JOIN_TOKEN')
    expect(envByName(agent).GRID_JOIN_TOKEN.valueFrom.secretKeyRef).toMatchObject({ name: 'gridd-join-token', key: 'token' })
    const seed = byKind(patches, 'StatefulSet', 'gridd-seed').spec.template.spec
    const env = envByName(seed.containers[0])
    expect([envOf('--certs'), envOf('--name'), envOf('--ca-key')]).toEqual(['GRID_CERTS', 'GRID_CERT_NAME', 'GRID_CA_KEY'])
    expect([env.GRID_CERTS.value, env.GRID_CERT_NAME.value, env.GRID_CA_KEY.value]).toEqual(['/var/lib/gridd/certs', 'node', '/var/lib/gridd/ca/ca.key'])
    expect(seed.initContainers[0].args[0]).toMatch(/install -m 0600 \/secret\/ca\.key \/var\/lib\/gridd\/ca\//)
    expect(seed.initContainers[0].args[0]).toMatch(/install -m 0600 \/secret\/node\.key \/var\/lib\/gridd\/certs\//)
    expect((byKind(patches, 'Service', 'gridd-seed').spec.ports as Obj[]).map(p => p.port)).toEqual([4101])
  })
})

describe.skipIf(!hasKubectl)('kubectl kustomize deploy/k8s/join-token (where kubectl is installed)', () => {
  it('builds: every object validates against its schema; the generated Secrets\' hashed names reach the StatefulSets; one image', () => {
    const objects = build('join-token')
    expect(objects.map(o => o.kind).sort()).toEqual(['PodDisruptionBudget', 'Secret', 'Secret', 'Service', 'Service', 'StatefulSet', 'StatefulSet'])
    for (const object of objects) expect(() => { validate(object) }, `${String(object.kind)} ${String(object.metadata.name)}`).not.toThrow()
    const tokenSecret = objects.find(o => o.kind === 'Secret' && String(o.metadata.name).startsWith('gridd-join-token-'))!.metadata.name as string
    const agent = byKind(objects, 'StatefulSet', 'gridd-agent').spec.template.spec.containers[0]
    expect(envByName(agent).GRID_JOIN_TOKEN.valueFrom.secretKeyRef.name).toBe(tokenSecret)
    const seed = byKind(objects, 'StatefulSet', 'gridd-seed').spec.template.spec
    expect(seed.volumes.find((v: Obj) => v.name === 'seed-secret').secret.secretName).toMatch(/^gridd-seed-\w+$/)
    // the base's args and the overlay's env, merged
    expect(seed.containers[0].args).toContain('--health=8080')
    expect(Object.keys(envByName(seed.containers[0]))).toEqual(expect.arrayContaining(['POD_NAME', 'GRID_CERTS', 'GRID_CA_KEY']))
    const images = new Set(objects.flatMap(o => [...(o.spec?.template?.spec?.containers ?? []), ...(o.spec?.template?.spec?.initContainers ?? [])].map((c: Obj) => c.image)))
    expect([...images]).toEqual(['gridd:latest'])
  })
})

describe('compose file and Dockerfile (deploy/)', () => {
  // compose resolves YAML merge keys (`<<: *node`)
  const compose = parse(readFileSync(join(deploy, 'compose.yaml'), 'utf8'), { merge: true }) as Obj

  it('a 3-node grid running the demo: certs made once, a seed holding the CA key, two agents joining with a token, the demo on them; volumes and dependencies declared', () => {
    const services = compose.services as Record<string, Obj>
    expect(Object.keys(services).sort()).toEqual(['agent1', 'agent2', 'certs', 'demo', 'seed'])
    for (const [name, service] of Object.entries(services)) {
      for (const dep of Object.keys(service.depends_on ?? {})) expect(services[dep], `${name} depends on ${dep}`).toBeDefined()
      for (const volume of (service.volumes ?? []) as string[]) expect(compose.volumes, volume).toHaveProperty(volume.split(':')[0]!)
      expect(service.image).toBe(name === 'demo' ? 'gridd-demo:latest' : 'gridd:latest')
    }
    const certs = (services.certs!.command as string[]).join(' ')
    expect(certs).toMatch(/certs init --dir \/certs/)
    expect(certs).toMatch(/certs issue demo --role member --dir \/certs/)
    expect(certs).toMatch(/certs token create --role agent --uses 2 /)
    expect(services.seed!.command).toContain('--ca-key')
    for (const flag of flagsOf(services.seed!.command as string[])) expect(NODE_FLAGS.has(flag), flag).toBe(true)
    for (const agent of ['agent1', 'agent2']) {
      const line = (services[agent]!.command as string[]).join(' ')
      expect(line).toMatch(/--agent --join/)
      for (const flag of line.match(/--[a-z-]+/g) ?? []) expect(NODE_FLAGS.has(flag), `${agent}: ${flag}`).toBe(true)
      expect(services[agent]!.depends_on).toEqual({ seed: { condition: 'service_healthy' } })
    }
    // the demo: the Dockerfile's demo target, joined once both agents are ready, with the member certificate but not the CA key
    expect(services.demo!.build.target).toBe('demo')
    expect(services.demo!.depends_on).toEqual({ agent1: { condition: 'service_healthy' }, agent2: { condition: 'service_healthy' } })
    expect(services.demo!.command).toEqual(expect.arrayContaining(['--peer', 'seed:4100', '--certs', '/demo-certs', '--name', 'demo']))
    expect(services.demo!.volumes).toEqual(['demo-certs:/demo-certs:ro'])
    for (const name of ['seed', 'agent1', 'agent2']) expect(services[name]!.healthcheck.test.join(' ')).toMatch(/127\.0\.0\.1:8080\/readyz/)
  })

  it('the image: node:24-slim, the bundled CLI, a non-root user', () => {
    const dockerfile = readFileSync(join(deploy, 'Dockerfile'), 'utf8')
    // build, the runtime, the demo (runtime + sources), and the default target: the runtime as is
    expect(dockerfile.match(/^FROM .+$/gm)).toEqual(['FROM node:24-slim AS build', 'FROM node:24-slim AS runtime', 'FROM runtime AS demo', 'FROM runtime'])
    expect(dockerfile).toMatch(/^COPY --from=build \/src\/dist\/bundle \.\/dist\/bundle$/m)
    expect(dockerfile).toMatch(/^USER 10001:10001$/m)
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node", "bin\/grid\.js"\]$/m)
    // `node bin/grid.js` skips the shebang: its flags come through NODE_OPTIONS instead
    const shebangFlags = readFileSync(join(deploy, '..', 'bin', 'grid.js'), 'utf8').split('\n', 1)[0]!.split(/\s+/).filter(w => w.startsWith('--'))
    expect(shebangFlags.length).toBeGreaterThan(0)
    expect(dockerfile).toMatch(new RegExp(`^ENV NODE_OPTIONS=${shebangFlags.join(' ')}$`, 'm'))
    expect(readdirSync(deploy)).toContain('Dockerfile.dockerignore')
  })
})
