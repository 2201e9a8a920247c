import * as v from 'valibot'

/** The channel every deployment, its code, lease, run record, progress and runner advert lives in. */
export const DEPLOYMENTS_CHANNEL = 'gridd.deployments'

/** Channel keys: one per deployment, code blob (and its chunks) and progress; leases, run starts and runners are LEASE_KEY's. */
export const KEY = {
  deployment: (name: string) => `d/${name}`,
  code: (hash: string) => `c/${hash}`,
  chunk: (hash: string, i: number) => `c/${hash}/${i}`,
  progress: (name: string) => `p/${name}`
} as const

export const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/
export const NAME_RULE = 'a deployment name is 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit'
const HASH = /^[0-9a-f]{64}$/
/** A deployment's params travel in every channel snapshot and reach its factories: kept small. */
export const MAX_PARAMS_BYTES = 16 * 1024
/** The definition and its stages together: under one protocol message (1 MiB) with room for JSON escaping. */
export const MAX_CODE_BYTES = 640 * 1024
/** UTF-16 units per stored chunk: at most 3 bytes each in UTF-8, well under a channel value's 64 KiB. */
export const CHUNK_CHARS = 16_000

const finite = v.pipe(v.number(), v.finite())
const hash = v.pipe(v.string(), v.regex(HASH))
const stageName = v.pipe(v.string(), v.minLength(1), v.maxLength(64))

/** A deployment as stored under `d/<name>`: its code by hash, its params, and whether it was stopped. */
export const deploymentSchema = v.object({
  name: v.pipe(v.string(), v.regex(NAME)),
  /** sha256 of the definition bundle. */
  hash,
  stages: v.pipe(v.array(v.object({ name: stageName, hash })), v.minLength(1), v.maxLength(32)),
  params: v.unknown(),
  /** One more on every deploy under this name: a runner of an older version stops and starts this one. */
  version: v.pipe(v.number(), v.integer(), v.minValue(1)),
  stopped: v.boolean(),
  deployedBy: v.string(),
  deployedAt: finite
})
export type Deployment = v.InferOutput<typeof deploymentSchema>

/** `c/<hash>`: how many chunks `c/<hash>/<i>` the code has, and its length. */
export const codeHeadSchema = v.object({ chunks: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(256)), chars: v.pipe(v.number(), v.integer(), v.minValue(0)) })
export const chunkSchema = v.pipe(v.string(), v.maxLength(CHUNK_CHARS))

export const RUN_STATES = ['starting', 'running', 'finished', 'failed', 'stopped'] as const
export type RunState = typeof RUN_STATES[number]

/** `p/<name>`: what the owner reports of its run, every couple of seconds and on every change of state. */
export const progressSchema = v.object({
  holder: v.string(),
  token: v.pipe(v.number(), v.integer(), v.minValue(0)),
  version: v.pipe(v.number(), v.integer(), v.minValue(1)),
  state: v.picklist(RUN_STATES),
  /** Items each stage has processed in this run. */
  processed: v.pipe(v.array(v.pipe(v.number(), v.integer(), v.minValue(0))), v.maxLength(32)),
  failed: v.pipe(v.number(), v.integer(), v.minValue(0)),
  startedAt: finite,
  updatedAt: finite,
  error: v.optional(v.pipe(v.string(), v.maxLength(2000)))
})
export type Progress = v.InferOutput<typeof progressSchema>

/** A deployment as `list` and `status` show it: the record, who runs it as this node sees it, and the owner's last report. */
export interface DeploymentView {
  name: string
  hash: string
  version: number
  stopped: boolean
  stages: string[]
  deployedBy: string
  deployedAt: number
  /** The member every node elects (rendezvous hashing over alive runners). */
  elected?: string
  /** Holder of the current lease, and its fencing token. */
  owner?: string
  token?: number
  progress?: Progress
}
