import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'

/*
 * The import graph of a TypeScript tree, for the import-cycle check: a small
 * tokenizer (comments, strings, template literals and regex literals are
 * skipped, so text that merely looks like an import is not one) and the
 * import forms gridd uses. TypeScript 7 ships no JS parser API, hence this.
 */

export interface ImportRef {
  specifier: string
  /** `import type …` / `export type … from`: erased at run time, still a dependency. */
  typeOnly: boolean
}

interface Token {
  kind: 'word' | 'string' | 'punct'
  text: string
}

/** Keywords after which a `/` starts a regex literal, not a division. */
const BEFORE_REGEX = new Set(['return', 'typeof', 'case', 'do', 'else', 'in', 'of', 'new', 'delete', 'void', 'throw', 'yield', 'await', 'instanceof'])

function tokenize (source: string): Token[] {
  const tokens: Token[] = []
  /** What each open `{` was: a block, or a `${` inside a template literal. */
  const braces: Array<'block' | 'template'> = []
  let i = 0
  const template = (): void => {
    // i is just past a backtick or a template's closing `}`
    while (i < source.length) {
      const c = source[i]
      if (c === '\\') { i += 2; continue }
      if (c === '`') { i++; return }
      if (c === '$' && source[i + 1] === '{') { braces.push('template'); i += 2; return }
      i++
    }
  }
  const regexAllowed = (): boolean => {
    const last = tokens.at(-1)
    if (last == null) return true
    if (last.kind === 'punct') return ![')', ']', '}'].includes(last.text)
    return last.kind === 'word' && BEFORE_REGEX.has(last.text)
  }
  while (i < source.length) {
    const c = source[i]!
    const next = source[i + 1]
    if (/\s/.test(c)) { i++; continue }
    if (c === '/' && next === '/') { const end = source.indexOf('\n', i); i = end === -1 ? source.length : end; continue }
    if (c === '/' && next === '*') { const end = source.indexOf('*/', i + 2); i = end === -1 ? source.length : end + 2; continue }
    if (c === '\'' || c === '"') {
      let text = ''
      i++
      while (i < source.length && source[i] !== c) { if (source[i] === '\\') i++; text += source[i] ?? ''; i++ }
      i++
      tokens.push({ kind: 'string', text })
      continue
    }
    if (c === '`') { i++; template(); tokens.push({ kind: 'string', text: '' }); continue }
    if (c === '/' && regexAllowed()) {
      let inClass = false
      i++
      while (i < source.length && (inClass || source[i] !== '/') && source[i] !== '\n') {
        if (source[i] === '\\') i++
        else if (source[i] === '[') inClass = true
        else if (source[i] === ']') inClass = false
        i++
      }
      i++
      while (/[a-z]/i.test(source[i] ?? '')) i++
      tokens.push({ kind: 'string', text: '' })
      continue
    }
    const word = /^[\w$]+/.exec(source.slice(i, i + 256))
    if (word != null) { tokens.push({ kind: 'word', text: word[0] }); i += word[0].length; continue }
    if (c === '{') braces.push('block')
    if (c === '}' && braces.pop() === 'template') { i++; template(); continue }
    tokens.push({ kind: 'punct', text: c })
    i++
  }
  return tokens
}

/** Every module specifier `source` imports or re-exports, dynamic `import('…')` included. */
export function importsOf (source: string): ImportRef[] {
  const tokens = tokenize(source)
  const at = (j: number): string => tokens[j]?.text ?? ''
  const isString = (j: number): boolean => tokens[j]?.kind === 'string'
  const skipBraces = (j: number): number => { while (j < tokens.length && at(j) !== '}') j++; return j + 1 }
  const refs: ImportRef[] = []
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!
    if (token.kind !== 'word' || at(i - 1) === '.') continue
    if (token.text === 'import') {
      if (at(i + 1) === '(' && isString(i + 2) && at(i + 3) === ')') { refs.push({ specifier: at(i + 2), typeOnly: false }); continue }
      if (isString(i + 1)) { refs.push({ specifier: at(i + 1), typeOnly: false }); continue }
      let j = i + 1
      // `import type from './x'` imports a default export named `type`
      const typeOnly = at(j) === 'type' && at(j + 1) !== 'from' && at(j + 1) !== ','
      if (typeOnly) j++
      if (tokens[j]?.kind === 'word' && at(j) !== 'from') j++
      if (at(j) === ',') j++
      if (at(j) === '{') j = skipBraces(j)
      else if (at(j) === '*') j += 3
      if (at(j) === 'from' && isString(j + 1)) refs.push({ specifier: at(j + 1), typeOnly })
    } else if (token.text === 'export') {
      let j = i + 1
      const typeOnly = at(j) === 'type'
      if (typeOnly) j++
      if (at(j) === '*') j += at(j + 1) === 'as' ? 3 : 1
      else if (at(j) === '{') j = skipBraces(j)
      else continue
      if (at(j) === 'from' && isString(j + 1)) refs.push({ specifier: at(j + 1), typeOnly })
    }
  }
  return refs
}

/** file -> the files it imports (relative specifiers only), each edge type-only when every import of it is. */
export type ImportGraph = Map<string, Map<string, { typeOnly: boolean }>>

/** The graph of every .ts file under `dir`, paths relative to `root` with `/` separators. */
export function importGraph (root: string, dir: string): ImportGraph {
  const graph: ImportGraph = new Map()
  const name = (file: string): string => relative(root, file).split(sep).join('/')
  for (const file of tsFiles(dir)) {
    const edges = new Map<string, { typeOnly: boolean }>()
    for (const ref of importsOf(readFileSync(file, 'utf8'))) {
      if (!ref.specifier.startsWith('.')) continue
      const to = name(resolve(dirname(file), ref.specifier))
      edges.set(to, { typeOnly: (edges.get(to)?.typeOnly ?? true) && ref.typeOnly })
    }
    graph.set(name(file), edges)
  }
  return graph
}

function tsFiles (dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap(entry => {
    const path = join(dir, entry.name)
    return entry.isDirectory() ? tsFiles(path) : entry.name.endsWith('.ts') ? [path] : []
  })
}

/**
 * Every import cycle, as readable chains (`a.ts → (type import) b.ts → a.ts`): the
 * shortest cycle through each file of each strongly connected component.
 */
export function findCycles (graph: ImportGraph): string[] {
  const chains = new Set<string>()
  for (const component of stronglyConnected(graph)) {
    const members = new Set(component)
    for (const start of [...component].sort()) {
      const cycle = shortestCycle(graph, start, members)
      if (cycle != null) chains.add(chainText(graph, rotateToSmallest(cycle)))
    }
  }
  return [...chains]
}

function stronglyConnected (graph: ImportGraph): string[][] {
  // Tarjan's algorithm; recursive, as src/ is far too shallow to overflow the stack
  let counter = 0
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const components: string[][] = []
  const visit = (file: string): void => {
    index.set(file, counter)
    low.set(file, counter++)
    stack.push(file)
    onStack.add(file)
    for (const to of graph.get(file)?.keys() ?? []) {
      if (!graph.has(to)) continue
      if (!index.has(to)) { visit(to); low.set(file, Math.min(low.get(file)!, low.get(to)!)) } else if (onStack.has(to)) low.set(file, Math.min(low.get(file)!, index.get(to)!))
    }
    if (low.get(file) !== index.get(file)) return
    const component: string[] = []
    let member: string
    do { member = stack.pop()!; onStack.delete(member); component.push(member) } while (member !== file)
    if (component.length > 1 || graph.get(file)?.has(file) === true) components.push(component)
  }
  for (const file of graph.keys()) if (!index.has(file)) visit(file)
  return components
}

/** Breadth-first from `start` back to itself, inside one component. */
function shortestCycle (graph: ImportGraph, start: string, members: Set<string>): string[] | undefined {
  const parent = new Map<string, string>()
  const queue = [start]
  while (queue.length > 0) {
    const file = queue.shift()!
    for (const to of graph.get(file)?.keys() ?? []) {
      if (!members.has(to)) continue
      if (to === start) {
        const path = [file]
        while (path[0] !== start) path.unshift(parent.get(path[0]!)!)
        return path
      }
      if (!parent.has(to)) { parent.set(to, file); queue.push(to) }
    }
  }
  return undefined
}

function rotateToSmallest (cycle: string[]): string[] {
  const first = cycle.indexOf([...cycle].sort()[0]!)
  return [...cycle.slice(first), ...cycle.slice(0, first)]
}

function chainText (graph: ImportGraph, cycle: string[]): string {
  return cycle.map((file, i) => {
    const to = cycle[(i + 1) % cycle.length]!
    return `${file} ${graph.get(file)?.get(to)?.typeOnly === true ? '→ (type import)' : '→'} `
  }).join('') + cycle[0]!
}
