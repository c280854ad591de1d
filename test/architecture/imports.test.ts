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

/** folder -> the folders its files import (relative imports, type-only ones included). */
function folderGraph(): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const file of files) {
    const from = folder(file);
    for (const m of fs.readFileSync(file, 'utf8').matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
      const to = folder(path.resolve(path.dirname(file), m[1]));
      if (to !== from) graph.set(from, (graph.get(from) ?? new Set()).add(to));
    }
  }
  return graph;
}

describe('source layout', () => {
  const graph = folderGraph();

  it('rl/ imports neither train/ nor eval/; sampling/ and model/ import no trainer', () => {
    expect([...(graph.get('rl') ?? [])].filter((f) => f === 'train' || f === 'eval')).toEqual([]);
    for (const low of ['sampling', 'model', 'engine']) expect([...(graph.get(low) ?? [])].filter((f) => ['rl', 'train', 'eval', 'cli'].includes(f))).toEqual([]);
  });

  it('no import cycle between folders', () => {
    const reaches = (a: string, b: string, seen = new Set<string>()): boolean =>
      [...(graph.get(a) ?? [])].some((n) => n === b || (!seen.has(n) && (seen.add(n), reaches(n, b, seen))));
    const cycles = [...graph].flatMap(([a, tos]) => [...tos].filter((b) => reaches(b, a)).map((b) => `${a} -> ${b}`));
    expect(cycles).toEqual([]);
  });

  it('no source file over 400 lines', () => {
    const long = files.map((f) => [path.relative(REPO_ROOT, f), fs.readFileSync(f, 'utf8').split('\n').length] as const).filter(([, n]) => n > 400);
    expect(long).toEqual([]);
  });
});
