import { GridError } from './base.ts'

export const ERR_DEFINITION = 'ERR_DEFINITION'
/** A deployment's file does not export a pipeline definition gridd can run; names the file and what is wrong. */
export class DefinitionError extends GridError {
  readonly file: string
  constructor (file: string, detail: string, options?: { cause?: unknown }) {
    super(`pipeline definition ${file}: ${detail}`, ERR_DEFINITION, options)
    this.file = file
  }
}

export const ERR_DEPLOYMENT_CODE = 'ERR_DEPLOYMENT_CODE'
/** A deployment's stored code is not (yet) complete on this member, or does not match its hash: retried on the next step. */
export class DeploymentCodeError extends GridError {
  readonly hash: string
  constructor (hash: string, detail: string) {
    super(`deployment code ${hash.slice(0, 12)}…: ${detail}`, ERR_DEPLOYMENT_CODE, { retryable: true })
    this.hash = hash
  }
}
