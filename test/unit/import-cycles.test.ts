import { describe, it, expect } from 'vitest'
import { fileURLToPath } from 'node:url'
import { findCycles, importGraph, importsOf } from './import-graph.ts'
import type { ImportGraph } from './import-graph.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const SRC = fileURLToPath(new URL('../../src', import.meta.url))

describe('importsOf', () => {
  it.each<[string, string, Array<[string, boolean]>]>([
    ['a default import', "import x from './a.ts'", [['./a.ts', false]]],
    ['named imports over lines', "import {\n  a,\n  b as c\n} from './a.ts'", [['./a.ts', false]]],
    ['default and named', "import x, { y } from \"./a.ts\"", [['./a.ts', false]]],
    ['a namespace import', "import * as v from 'valibot'", [['valibot', false]]],
    ['a type-only import', "import type { A } from './a.ts'", [['./a.ts', true]]],
    ['a default named `type`', "import type from './a.ts'", [['./a.ts', false]]],
    ['inline type modifiers (kept at run time under verbatimModuleSyntax)', "import { type A, b } from './a.ts'", [['./a.ts', false]]],
    ['a side-effect import', "import './a.ts'", [['./a.ts', false]]],
    ['a dynamic import', "const m = await import('./a.ts')", [['./a.ts', false]]],
    ['re-exports', "export { a } from './a.ts'\nexport * from './b.ts'\nexport * as c from './c.ts'\nexport type { D } from './d.ts'", [['./a.ts', false], ['./b.ts', false], ['./c.ts', false], ['./d.ts', true]]],
    ['a local export list, then an import', "export { a, b }\nimport x from './x.ts'", [['./x.ts', false]]],
    ['comments', "// import x from './a.ts'\n/* import('./b.ts') */\n/** export * from './c.ts' */", []],
    ['strings and templates', "const s = \"import x from './a.ts'\"\nconst t = `import('./b.ts') ${'x'} export * from './c.ts'`", []],
    ['a template with nested braces before an import', "const t = `${fn({ a: 1 })}`\nimport y from './y.ts'", [['./y.ts', false]]],
    ['a regex with quotes and slashes', "const re = /['\"]import\\/x/g\nimport z from './z.ts'", [['./z.ts', false]]],
    ['import.meta and member calls', "const u = new URL('./a.ts', import.meta.url)\nloader.import('./b.ts')", []],
    ['declarations that are not re-exports', "export const from = 1\nexport type Foo = { a: 'x' }\nexport function f () {}", []]
  ])('%s', (_what, source, expected) => {
    expect(importsOf(source).map(r => [r.specifier, r.typeOnly])).toEqual(expected)
  })
})

describe('findCycles', () => {
  const graph = (edges: Record<string, Record<string, boolean>>): ImportGraph =>
    new Map(Object.entries(edges).map(([from, to]) => [from, new Map(Object.entries(to).map(([file, typeOnly]) => [file, { typeOnly }]))]))

  it('reports nothing for a DAG', () => {
    expect(findCycles(graph({ a: { b: false, c: true }, b: { c: false }, c: {} }))).toEqual([])
  })

  it('reports a runtime cycle and a type-only one as readable chains, each once', () => {
    const cycles = findCycles(graph({ a: { b: false }, b: { a: false }, c: { d: true }, d: { e: false }, e: { c: false }, f: { f: false } }))
    expect(cycles.sort()).toEqual(['a → b → a', 'c → (type import) d → e → c', 'f → f'])
  })

  it('names the shortest cycle through every file of a tangle', () => {
    const cycles = findCycles(graph({ a: { b: false, c: false }, b: { a: false }, c: { a: false } }))
    expect(cycles.sort()).toEqual(['a → b → a', 'a → c → a'])
  })
})

describe('src/', () => {
  const src = importGraph(ROOT, SRC)

  it('the graph is the real one (the check below is not vacuous)', () => {
    expect(src.size).toBeGreaterThan(50)
    expect(src.get('src/node.ts')?.has('src/config.ts')).toBe(true)
    expect(src.get('src/index.ts')?.get('src/node-events.ts')?.typeOnly).toBe(true)
    // a dynamic import counts too
    expect(src.get('src/node-tls.ts')?.has('src/certs/dev.ts')).toBe(true)
    for (const [file, edges] of src) for (const to of edges.keys()) expect(src.has(to), `${file} imports ${to}`).toBe(true)
  })

  it('has no import cycle, runtime or type-only (a type that sits in the wrong module moves to a leaf)', () => {
    expect(findCycles(src)).toEqual([])
  })

  it('src/checks/ is a leaf: anything may import it because it imports nothing of gridd but src/errors.ts', () => {
    const checks = [...src].filter(([file]) => file.startsWith('src/checks/'))
    expect(checks.length).toBeGreaterThan(0)
    for (const [file, edges] of checks) {
      for (const to of edges.keys()) expect(to === 'src/errors.ts' || to.startsWith('src/checks/'), `${file} imports ${to}`).toBe(true)
    }
  })
})
