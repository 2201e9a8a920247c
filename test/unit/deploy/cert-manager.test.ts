import { describe, it, expect } from 'vitest'
import { Certificate } from '@kubernetes-models/cert-manager/cert-manager.io/v1'
import { roleUri } from '../../../src/trust/roles.ts'
import { INIT_CERTIFICATES } from '../../../src/certs/files.ts'
import { nodeCommand } from '../../../src/cli/commands/node.ts'
import { kustomization, resourcesOf, patchesOf, byKind, hasKubectl, build, validate } from './kustomize.ts'
import type { Obj } from './kustomize.ts'

const own = resourcesOf('cert-manager').map(r => r.object)
const base = resourcesOf('base').map(r => r.object)
const patches = patchesOf('cert-manager')
const certificates = own.filter(o => o.kind === 'Certificate')
const agents = byKind(base, 'StatefulSet', 'gridd-agent')
const envOf = (long: string): string | undefined => nodeCommand().options.find(o => o.long === long)?.envVar

describe('Kubernetes manifests: deploy/k8s/cert-manager (a CA Issuer signs every node\'s certificate)', () => {
  it('the Issuer and the Certificates validate against cert-manager\'s schemas; the validation can fail', () => {
    expect(own.map(o => o.kind).sort()).toEqual(['Certificate', 'Certificate', 'Certificate', 'Certificate', 'Issuer'])
    for (const object of own) expect(() => { validate(object) }, `${String(object.kind)} ${String(object.metadata.name)}`).not.toThrow()
    const broken = structuredClone(certificates[0]!)
    broken.spec.privateKey.algorithm = 'Curve25519'
    expect(() => { new Certificate(broken).validate() }).toThrow(/algorithm/)
  })

  it('the Issuer is a CA Issuer reading the grid CA from a kubernetes.io/tls Secret the kustomization makes under that very name', () => {
    const issuer = byKind(own, 'Issuer', 'gridd-ca')
    const generator = (kustomization('cert-manager').secretGenerator as Obj[]).find(g => g.name === issuer.spec.ca.secretName)!
    expect(generator).toMatchObject({ type: 'kubernetes.io/tls', files: ['tls.crt=secrets/ca.crt', 'tls.key=secrets/ca.key'], options: { disableNameSuffixHash: true } })
  })

  it('each Certificate is what gridd needs: Ed25519 PKCS#8, its roles as urn:gridd:role SAN URIs, TLS server and client, the key kept on renewal', () => {
    for (const { spec } of certificates) {
      expect(spec.issuerRef).toEqual({ group: 'cert-manager.io', kind: 'Issuer', name: 'gridd-ca' })
      expect(spec.privateKey).toEqual({ algorithm: 'Ed25519', encoding: 'PKCS8', rotationPolicy: 'Never' })
      expect(spec.usages).toEqual(['digital signature', 'server auth', 'client auth'])
      expect(spec.uris.length).toBeGreaterThan(0)
    }
    // the seed is a member (as `grid certs init`'s node, which also may host workers); agents hold agent too
    expect(byKind(own, 'Certificate', 'gridd-seed-0').spec.uris).toEqual([roleUri('member')])
    expect(INIT_CERTIFICATES.find(c => c.name === 'node')!.roles).toContain('member')
    for (const cert of certificates.filter(c => c.metadata.name.startsWith('gridd-agent-'))) expect(cert.spec.uris).toEqual([roleUri('member'), roleUri('agent')])
  })

  it('one Certificate per agent replica (a key is a node\'s identity), its DNS name the pod\'s; the projected volume holds exactly their Secrets, one directory per pod name', () => {
    const names = Array.from({ length: agents.spec.replicas as number }, (_, i) => `${String(agents.metadata.name)}-${i}`)
    for (const name of names) {
      const cert = byKind(own, 'Certificate', name)
      expect(cert.spec).toMatchObject({ secretName: `${name}-tls`, commonName: name, dnsNames: [`${name}.${String(agents.spec.serviceName)}`] })
    }
    expect(certificates.length).toBe(names.length + 1)
    const pod = byKind(patches, 'StatefulSet', 'gridd-agent').spec.template.spec
    const sources = (pod.volumes as Obj[]).find(v => v.name === 'certs')!.projected.sources as Obj[]
    expect(sources.map(s => s.secret.name)).toEqual(names.map(n => `${n}-tls`))
    for (const [i, source] of sources.entries()) expect((source.secret.items as Obj[]).map(item => `${String(item.key)}>${String(item.path)}`)).toEqual(['ca.crt', 'tls.crt', 'tls.key'].map(k => `${k}>${names[i]!}/${k}`))
  })

  it('the nodes read the copies, not the Secret (its files are group-readable under fsGroup): GRID_CERTS is the memory volume the init container fills, keys 0600, under the names the node reads', () => {
    expect(envOf('--certs')).toBe('GRID_CERTS')
    const seed = byKind(patches, 'StatefulSet', 'gridd-seed').spec.template.spec
    const seedEnv = Object.fromEntries((seed.containers[0].env as Obj[]).map(e => [e.name, e.value]))
    expect(seedEnv).toEqual({ GRID_CERTS: '/run/gridd/tls', GRID_CERT_NAME: 'node' })
    expect(seed.initContainers[0].args[0]).toMatch(/install -m 0600 \/cert\/tls\.key \/run\/gridd\/tls\/node\.key/)
    expect(seed.volumes.find((v: Obj) => v.name === 'cert').secret.secretName).toBe(byKind(own, 'Certificate', 'gridd-seed-0').spec.secretName)
    const agent = byKind(patches, 'StatefulSet', 'gridd-agent').spec.template.spec
    expect(agent.containers[0].env).toEqual([{ name: 'GRID_CERTS', value: '/run/gridd/tls' }])
    // the base names the agent's certificate by its pod: --name=$(POD_NAME) reads $POD_NAME.crt and .key
    expect(agents.spec.template.spec.containers[0].args).toContain('--name=$(POD_NAME)')
    expect(agent.initContainers[0].args[0]).toMatch(/install -m 0600 "\/certs\/\$POD_NAME\/tls\.key" "\/run\/gridd\/tls\/\$POD_NAME\.key"/)
    for (const spec of [seed, agent]) {
      expect(spec.volumes.find((v: Obj) => v.name === 'tls').emptyDir.medium).toBe('Memory')
      expect(spec.containers[0].volumeMounts).toEqual([{ name: 'tls', mountPath: '/run/gridd/tls', readOnly: true }])
    }
  })
})

describe.skipIf(!hasKubectl)('kubectl kustomize deploy/k8s/cert-manager (where kubectl is installed)', () => {
  it('builds: every object validates against its schema; no join token and no CA key reach a node; the patches merged into the base', () => {
    const objects = build('cert-manager')
    expect(objects.map(o => o.kind).sort()).toEqual(['Certificate', 'Certificate', 'Certificate', 'Certificate', 'Issuer', 'PodDisruptionBudget', 'Secret', 'Service', 'Service', 'StatefulSet', 'StatefulSet'])
    for (const object of objects) expect(() => { validate(object) }, `${String(object.kind)} ${String(object.metadata.name)}`).not.toThrow()
    expect(byKind(objects, 'Secret', 'gridd-ca').type).toBe('kubernetes.io/tls')
    const text = JSON.stringify(objects.filter(o => o.kind === 'StatefulSet'))
    expect(text).not.toMatch(/GRID_JOIN_TOKEN|GRID_CA_KEY|gridd-ca"/)
    const agent = byKind(objects, 'StatefulSet', 'gridd-agent').spec.template.spec
    expect(agent.containers[0].args).toContain('--agent')
    expect((agent.containers[0].env as Obj[]).map(e => e.name)).toEqual(expect.arrayContaining(['POD_NAME', 'GRID_CPU', 'GRID_MEMORY', 'GRID_CERTS']))
    expect((agent.volumes as Obj[]).map(v => v.name).sort()).toEqual(['certs', 'tls', 'tmp'])
    expect(agent.initContainers[0].image).toBe('gridd:latest')
  })
})
