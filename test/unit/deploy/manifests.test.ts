import { describe, it, expect } from 'vitest'
import { readFileSync, readdirSync, existsSync, cpSync, mkdirSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { tmpdir } from 'node:os'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { parseAllDocuments, parse } from 'yaml'
import { StatefulSet } from 'kubernetes-models/apps/v1'
import { Service } from 'kubernetes-models/v1'
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1'
import { nodeCommand } from '../../../src/cli/commands/node.ts'

const deploy = fileURLToPath(new URL('../../../deploy/', import.meta.url))
const k8s = join(deploy, 'k8s')

type Obj = Record<string, any>

/** The kubernetes-models class of each kind the manifests use: `validate()` checks an object against the API's schema. */
const MODELS: Record<string, new (data: any) => { validate: () => void }> = {
  'apps/v1/StatefulSet': StatefulSet,
  'v1/Service': Service,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget
}

function manifests (): Array<{ file: string, object: Obj }> {
  const kustomization = parse(readFileSync(join(k8s, 'kustomization.yaml'), 'utf8')) as Obj
  return (kustomization.resources as string[]).flatMap(file => parseAllDocuments(readFileSync(join(k8s, file), 'utf8')).map(doc => ({ file, object: doc.toJS() as Obj })))
}

const byKind = (kind: string, name: string): Obj => manifests().find(m => m.object.kind === kind && m.object.metadata.name === name)!.object

/** Every `--flag` of `grid node` (commander's long names). */
const NODE_FLAGS = new Set(nodeCommand().options.map(o => o.long))
const flagsOf = (args: string[]): string[] => args.filter(a => a.startsWith('--')).map(a => a.split('=')[0]!)

describe('Kubernetes manifests (deploy/k8s)', () => {
  it('every resource of the kustomization validates against the Kubernetes schema of its kind', () => {
    const all = manifests()
    expect(all.length).toBe(5)
    for (const { file, object } of all) {
      const Model = MODELS[`${object.apiVersion}/${object.kind}`]
      expect(Model, `${file}: ${object.apiVersion} ${object.kind}`).toBeDefined()
      expect(() => { new Model!(object).validate() }, file).not.toThrow()
    }
  })

  it('the validation can fail: a StatefulSet with a string replica count is refused', () => {
    const broken = structuredClone(byKind('StatefulSet', 'gridd-agent'))
    broken.spec.replicas = 'three'
    expect(() => { new StatefulSet(broken).validate() }).toThrow()
  })

  it('the kustomization names files that exist or are made by the operator (secrets/), and the image of every container', () => {
    const kustomization = parse(readFileSync(join(k8s, 'kustomization.yaml'), 'utf8')) as Obj
    for (const file of kustomization.resources as string[]) expect(existsSync(join(k8s, file)), file).toBe(true)
    const secretFiles = (kustomization.secretGenerator as Obj[]).flatMap(g => g.files as string[])
    expect(secretFiles.every(f => f.startsWith('secrets/'))).toBe(true)
    expect(readFileSync(join(deploy, '..', '.gitignore'), 'utf8')).toMatch(/deploy\/k8s\/secrets\//)
    const images = new Set(manifests().flatMap(m => [...(m.object.spec?.template?.spec?.containers ?? []), ...(m.object.spec?.template?.spec?.initContainers ?? [])].map((c: Obj) => c.image)))
    expect([...images]).toEqual([(kustomization.images as Obj[])[0]!.name])
  })

  it('agents: a StatefulSet behind a headless Service publishing not-ready addresses, token from a Secret, probes on --health, requests mapped to --cpu/--memory, a preStop leave, a PodDisruptionBudget', () => {
    const set = byKind('StatefulSet', 'gridd-agent')
    const service = byKind('Service', set.spec.serviceName)
    expect(service.spec).toMatchObject({ clusterIP: 'None', publishNotReadyAddresses: true })
    expect(service.spec.selector).toEqual(set.spec.template.metadata.labels)
    const container = set.spec.template.spec.containers[0]
    expect(container.args[0]).toBe('node')
    for (const flag of flagsOf(container.args)) expect(NODE_FLAGS.has(flag), flag).toBe(true)
    expect(container.args).toContain('--agent')
    const env = Object.fromEntries((container.env as Obj[]).map(e => [e.name, e]))
    expect(env.GRID_JOIN_TOKEN.valueFrom.secretKeyRef).toMatchObject({ name: 'gridd-join-token', key: 'token' })
    expect(env.GRID_CPU.valueFrom.resourceFieldRef).toMatchObject({ resource: 'requests.cpu' })
    expect(env.GRID_MEMORY.valueFrom.resourceFieldRef).toMatchObject({ resource: 'requests.memory', divisor: '1Mi' })
    // the variables the node reads for those flags (commander's .env())
    const envOf = (long: string): string | undefined => nodeCommand().options.find(o => o.long === long)?.envVar
    expect([envOf('--join'), envOf('--cpu'), envOf('--memory')]).toEqual(['GRID_JOIN_TOKEN', 'GRID_CPU', 'GRID_MEMORY'])
    const healthPort = Number(container.args.find((a: string) => a.startsWith('--health='))!.split('=')[1])
    const named = (container.ports as Obj[]).find(p => p.name === container.livenessProbe.httpGet.port)
    expect(named?.containerPort).toBe(healthPort)
    expect(container.livenessProbe.httpGet.path).toBe('/healthz')
    expect(container.readinessProbe.httpGet.path).toBe('/readyz')
    expect(container.args).toContain('--health-host=0.0.0.0')
    expect(container.lifecycle.preStop.exec.command.join(' ')).toMatch(/kill -TERM 1/)
    const pdb = byKind('PodDisruptionBudget', 'gridd-agent')
    expect(pdb.spec.selector.matchLabels).toEqual(set.spec.template.metadata.labels)
    expect(set.spec.template.spec.securityContext).toMatchObject({ runAsNonRoot: true })
  })

  it('the seed: CA key and tokens copied from its Secret into its volume (keys 0600), the join port exposed', () => {
    const set = byKind('StatefulSet', 'gridd-seed')
    const container = set.spec.template.spec.containers[0]
    for (const flag of flagsOf(container.args)) expect(NODE_FLAGS.has(flag), flag).toBe(true)
    expect(container.args).toContain('--ca-key=/var/lib/gridd/ca/ca.key')
    expect(set.spec.template.spec.initContainers[0].args[0]).toMatch(/install -m 0600 \/secret\/ca\.key/)
    expect((byKind('Service', 'gridd-seed').spec.ports as Obj[]).map(p => p.port)).toEqual([4100, 4101])
  })
})

const hasKubectl = spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status === 0

describe.skipIf(!hasKubectl)('kubectl kustomize deploy/k8s (where kubectl is installed)', () => {
  it('builds: the generated Secrets\' hashed names reach the StatefulSets', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gridd-kustomize-'))
    try {
      cpSync(k8s, dir, { recursive: true })
      mkdirSync(join(dir, 'secrets'), { recursive: true })
      for (const file of ['ca.crt', 'ca.key', 'node.crt', 'node.key', 'tokens.json', 'token']) writeFileSync(join(dir, 'secrets', file), 'placeholder')
      const built = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8', timeout: 60_000 })
      expect(built.status, built.stderr).toBe(0)
      const objects = parseAllDocuments(built.stdout).map(d => d.toJS() as Obj)
      expect(objects.map(o => o.kind).sort()).toEqual(['PodDisruptionBudget', 'Secret', 'Secret', 'Service', 'Service', 'StatefulSet', 'StatefulSet'])
      const tokenSecret = objects.find(o => o.kind === 'Secret' && String(o.metadata.name).startsWith('gridd-join-token-'))!.metadata.name
      expect(built.stdout.split(`name: ${tokenSecret as string}`).length).toBe(3)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('compose file and Dockerfile (deploy/)', () => {
  // compose resolves YAML merge keys (`<<: *node`)
  const compose = parse(readFileSync(join(deploy, 'compose.yaml'), 'utf8'), { merge: true }) as Obj

  it('a 3-node grid: a seed holding the CA key and two agents joining with a token; volumes and dependencies declared', () => {
    const services = compose.services as Record<string, Obj>
    expect(Object.keys(services).sort()).toEqual(['agent1', 'agent2', 'certs', 'seed'])
    const nodes = Object.entries(services).filter(([, s]) => JSON.stringify(s.command).includes('node'))
    expect(nodes.length).toBe(4)
    for (const [name, service] of Object.entries(services)) {
      for (const dep of Object.keys(service.depends_on ?? {})) expect(services[dep], `${name} depends on ${dep}`).toBeDefined()
      for (const volume of (service.volumes ?? []) as string[]) expect(compose.volumes, volume).toHaveProperty(volume.split(':')[0]!)
      expect(service.image).toBe('gridd:latest')
    }
    expect(services.seed!.command).toContain('--ca-key')
    for (const agent of ['agent1', 'agent2']) {
      const line = (services[agent]!.command as string[]).join(' ')
      expect(line).toMatch(/--agent --join/)
      for (const flag of line.match(/--[a-z-]+/g) ?? []) expect(NODE_FLAGS.has(flag), `${agent}: ${flag}`).toBe(true)
    }
    for (const flag of flagsOf(services.seed!.command as string[])) expect(NODE_FLAGS.has(flag), flag).toBe(true)
  })

  it('the image: node:24-slim, the bundled CLI, a non-root user', () => {
    const dockerfile = readFileSync(join(deploy, 'Dockerfile'), 'utf8')
    expect(dockerfile.match(/^FROM (\S+)/gm)).toEqual(['FROM node:24-slim', 'FROM node:24-slim'])
    expect(dockerfile).toMatch(/^COPY --from=build \/src\/dist\/bundle \.\/dist\/bundle$/m)
    expect(dockerfile).toMatch(/^USER 10001:10001$/m)
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node", "bin\/grid\.js"\]$/m)
    expect(readdirSync(deploy)).toContain('Dockerfile.dockerignore')
  })
})
