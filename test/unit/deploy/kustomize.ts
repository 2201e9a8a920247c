/** The kustomizations under deploy/k8s: their resource files, a build with `kubectl kustomize`, schema validation. */
import { readFileSync, existsSync, statSync, cpSync, mkdirSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { tmpdir } from 'node:os'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { parseAllDocuments, parse } from 'yaml'
import { StatefulSet } from 'kubernetes-models/apps/v1'
import { Service, Secret } from 'kubernetes-models/v1'
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1'
import { Certificate, Issuer } from '@kubernetes-models/cert-manager/cert-manager.io/v1'

export const deploy = fileURLToPath(new URL('../../../deploy/', import.meta.url))
export const k8s = join(deploy, 'k8s')

export type Obj = Record<string, any>

/** The kubernetes-models class of each kind the manifests use: `validate()` checks an object against the API's (or the CRD's) schema. */
const MODELS: Record<string, new (data: never) => { validate: () => void }> = {
  'apps/v1/StatefulSet': StatefulSet,
  'v1/Service': Service,
  'v1/Secret': Secret,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'cert-manager.io/v1/Certificate': Certificate,
  'cert-manager.io/v1/Issuer': Issuer
}

/** Throws unless `object` is a kind we know and valid against its schema. */
export function validate (object: Obj): void {
  const Model = MODELS[`${String(object.apiVersion)}/${String(object.kind)}`]
  if (Model == null) throw new Error(`no schema for ${String(object.apiVersion)} ${String(object.kind)}`)
  new Model(object as never).validate()
}

export const kustomization = (dir: string): Obj => parse(readFileSync(join(k8s, dir, 'kustomization.yaml'), 'utf8')) as Obj

const documents = (path: string): Obj[] => parseAllDocuments(readFileSync(path, 'utf8')).map(doc => doc.toJS() as Obj)

/** The objects of a kustomization's own resource files (not those of the directories it includes). */
export function resourcesOf (dir: string): Array<{ file: string, object: Obj }> {
  return (kustomization(dir).resources as string[])
    .filter(file => !statSync(join(k8s, dir, file)).isDirectory())
    .flatMap(file => documents(join(k8s, dir, file)).map(object => ({ file, object })))
}

/** A kustomization's patches, parsed. */
export const patchesOf = (dir: string): Obj[] => (kustomization(dir).patches as Array<{ path: string }>).flatMap(p => documents(join(k8s, dir, p.path)))

export const byKind = (objects: Obj[], kind: string, name: string): Obj => {
  const found = objects.find(o => o.kind === kind && o.metadata.name === name)
  if (found == null) throw new Error(`no ${kind} ${name}`)
  return found
}

export const hasKubectl = spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status === 0

/** `kubectl kustomize deploy/k8s/<overlay>` on a copy, with placeholder files for the secrets the operator makes. */
export function build (overlay: string): Obj[] {
  const dir = mkdtempSync(join(tmpdir(), 'gridd-kustomize-'))
  try {
    cpSync(k8s, dir, { recursive: true })
    mkdirSync(join(dir, overlay, 'secrets'), { recursive: true })
    const files = (kustomization(overlay).secretGenerator as Obj[] ?? []).flatMap(g => g.files as string[]).map(f => f.split('=').at(-1)!)
    for (const file of files) {
      if (!existsSync(join(dir, overlay, file))) writeFileSync(join(dir, overlay, file), 'placeholder')
    }
    const built = spawnSync('kubectl', ['kustomize', join(dir, overlay)], { encoding: 'utf8', timeout: 60_000 })
    if (built.status !== 0) throw new Error(`kubectl kustomize ${overlay}: ${built.stderr}`)
    return parseAllDocuments(built.stdout).map(d => d.toJS() as Obj)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
