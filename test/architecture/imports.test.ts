/**
 * The layout rules of README "Architecture", checked on the source: which folder may import which, no import cycle
 * between folders, no source file over 400 lines.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../paths.ts';

const SRC = path.join(REPO_ROOT, 'src');
const files = fs.readdirSync(SRC, { recursive: true, withFileTypes: true })
  .filter((d) => d.isFile() && /\.(ts|mjs)$/.test(d.name))
  .map((d) => path.join(d.parentPath, d.name));
const folder = (file: string) => path.relative(SRC, file).split(path.sep)[0];

/** file -> the files it imports (relative imports, type-only ones included). */
const fileGraph = new Map(files.map((file) => [file, new Set(
  [...fs.readFileSync(file, 'utf8').matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => path.resolve(path.dirname(file), m[1])),
)]));

/** folder -> the folders its files import. */
function folderGraph(): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const [file, tos] of fileGraph) {
    for (const to of tos) if (folder(to) !== folder(file)) graph.set(folder(file), (graph.get(folder(file)) ?? new Set()).add(folder(to)));
  }
  return graph;
}

/** Edges a -> b of `graph` from which a is reachable again. */
function cycles(graph: Map<string, Set<string>>, name: (x: string) => string): string[] {
  const reaches = (a: string, b: string, seen = new Set<string>()): boolean =>
    [...(graph.get(a) ?? [])].some((n) => n === b || (!seen.has(n) && (seen.add(n), reaches(n, b, seen))));
  return [...graph].flatMap(([a, tos]) => [...tos].filter((b) => reaches(b, a)).map((b) => `${name(a)} -> ${name(b)}`));
}

describe('source layout', () => {
  const graph = folderGraph();

  it('rl/ imports neither train/ nor eval/; sampling/ and model/ import no trainer', () => {
    expect([...(graph.get('rl') ?? [])].filter((f) => f === 'train' || f === 'eval')).toEqual([]);
    for (const low of ['sampling', 'model', 'engine']) expect([...(graph.get(low) ?? [])].filter((f) => ['rl', 'train', 'eval', 'cli'].includes(f))).toEqual([]);
  });

  it('no import cycle between folders, nor between files', () => {
    expect(cycles(graph, (x) => x)).toEqual([]);
    expect(cycles(fileGraph, (x) => path.relative(REPO_ROOT, x))).toEqual([]);
  });

  it('no source file over 400 lines', () => {
    const long = files.map((f) => [path.relative(REPO_ROOT, f), fs.readFileSync(f, 'utf8').split('\n').length] as const).filter(([, n]) => n > 400);
    expect(long).toEqual([]);
  });
});
