/**
 * Bundles browser code from src/ with esbuild (one IIFE script and its CSS, in memory): the report inlines both into
 * its HTML file, the playground serves them. Node-only modules must not be reachable from `entry`: esbuild then
 * fails naming the import chain.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export interface Bundle {
  js: string;
  css: string;
}

/**
 * `entry` relative to src/ (e.g. 'report/client.ts'). `minify` trades readable stack traces for size; `alias` maps a
 * package name to a file relative to src/.
 */
export async function bundleBrowser(entry: string, opts: { minify?: boolean; alias?: Record<string, string> } = {}): Promise<Bundle> {
  const src = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const result = await build({
    entryPoints: [path.join(src, entry)],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    minify: opts.minify ?? true,
    outdir: 'bundle', // names the outputs; nothing is written
    logLevel: 'silent',
    legalComments: 'inline', // keeps the licence headers of bundled libraries
    alias: Object.fromEntries(Object.entries(opts.alias ?? {}).map(([name, file]) => [name, path.join(src, file)])),
  });
  const pick = (ext: string) => result.outputFiles.filter((f) => f.path.endsWith(ext)).map((f) => f.text).join('\n');
  return { js: pick('.js'), css: pick('.css') };
}
