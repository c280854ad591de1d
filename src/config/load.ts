/**
 * YAML file -> validated, typed config. Every problem is reported before any work starts, as one message naming the
 * file, the line and the key path: `configs/sudoku-sft.yaml:14 optimizer.lr: expected number, received string`.
 */
import fs from 'node:fs';
import { LineCounter, parseDocument, parse as parseYaml, isMap, type Document } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../errors.ts';
import { OBJECTIVE_KEYS } from './schema.ts';

export interface LoadedConfig<T> {
  config: T;
  /** The file it came from. */
  path: string;
  /** Where a key came from, for later checks' messages: `configs/x.yaml:12`, `--set sampler.gen_length (configs/x.yaml)`, or the file. */
  where?: (keyPath: string) => string;
  /** What loading changed that the user should hear about (printed by the CLIs as `note: ...`). */
  notes?: string[];
}

/** Reads `path`, applies `--set key.path=value` overrides (values parsed as YAML scalars), validates with `schema`. */
export function loadConfig<S extends z.ZodType>(path: string, schema: S, sets: string[] = []): LoadedConfig<z.infer<S>> {
  if (!fs.existsSync(path)) throw new ConfigError(`config file not found: ${path}`);
  const text = fs.readFileSync(path, 'utf8');
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    // prettyErrors: false leaves linePos unset: the line comes from the error's offset.
    const line = e.linePos?.[0]?.line ?? (e.pos?.[0] !== undefined ? lines.linePos(e.pos[0]).line : undefined);
    throw new ConfigError(`${path}${line ? `:${line}` : ''}: invalid YAML: ${e.message.split('\n')[0]}`);
  }
  if (!isMap(doc.contents) && doc.contents !== null) throw new ConfigError(`${path}: the top level must be a mapping of sections`);
  const setKeys = new Set<string>();
  for (const s of sets) setKeys.add(applySet(doc, s, path));
  const notes = setKeys.has('grpo.objective') ? dropOtherObjectivesKeys(doc, setKeys, path) : [];
  const raw = doc.toJS() ?? {};
  const result = schema.safeParse(raw);
  if (!result.success) {
    const messages = result.error.issues.map((issue) => describeIssue(issue, doc, lines, path, setKeys, schema));
    throw new ConfigError(messages.join('\n'));
  }
  return { config: result.data, path, notes, where: (keyPath) => where(doc, lines, path, keyPath.split('.').map((k) => (/^\d+$/.test(k) ? Number(k) : k)), setKeys) };
}

/**
 * `--set grpo.objective=X` on a config written for another objective (the comparison of objectives on one recipe):
 * the file's grpo keys that X does not read (OBJECTIVE_KEYS) are dropped, with a note, instead of refused. A config
 * that names its objective itself, or a `--set` of such a key, still gets the one-line refusal.
 */
function dropOtherObjectivesKeys(doc: Document, setKeys: Set<string>, file: string): string[] {
  const objective = String(doc.getIn(['grpo', 'objective']));
  const grpo = doc.getIn(['grpo']);
  if (!isMap(grpo)) return [];
  const dropped = grpo.items.map((item) => String((item.key as { value?: unknown })?.value ?? item.key))
    .filter((key) => OBJECTIVE_KEYS[key] && !OBJECTIVE_KEYS[key].includes(objective as never) && !setKeys.has(`grpo.${key}`));
  for (const key of dropped) doc.deleteIn(['grpo', key]);
  return dropped.length > 0 ? [`--set grpo.objective=${objective}: ${file}'s ${dropped.map((k) => `grpo.${k}`).join(', ')} ${dropped.length === 1 ? 'is' : 'are'} not read by ${objective}, left out`] : [];
}

/** Validates an in-memory object (tests, programmatic use) with the same messages, minus line numbers. */
export function parseConfig<S extends z.ZodType>(raw: unknown, schema: S, source = '<object>'): z.infer<S> {
  const result = schema.safeParse(raw);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((i) => `${source}: ${issuePath(i.path)}: ${issueText(i)}`).join('\n'));
  }
  return result.data;
}

function applySet(doc: Document, set: string, file: string): string {
  const eq = set.indexOf('=');
  if (eq <= 0) throw new ConfigError(`--set ${set}: expected key.path=value`);
  const key = set.slice(0, eq).trim();
  const value = parseYaml(set.slice(eq + 1));
  const path = key.split('.');
  if (path.some((p) => p === '')) throw new ConfigError(`--set ${set}: bad key path '${key}'`);
  try {
    doc.setIn(path, value);
  } catch (e) {
    throw new ConfigError(`--set ${key}: cannot set it in ${file}: ${(e as Error).message}`);
  }
  return key;
}

type Issue = z.core.$ZodIssue;

function issuePath(path: PropertyKey[]): string {
  return path.length === 0 ? '(top level)' : path.map(String).join('.');
}

function issueText(issue: Issue): string {
  if (issue.code === 'unrecognized_keys') return `unknown key(s) ${issue.keys.map((k) => `'${k}'`).join(', ')}`;
  if (issue.code === 'invalid_type' && / received undefined$/.test(issue.message)) return `missing (required, ${issue.expected})`;
  return issue.message;
}

function describeIssue(issue: Issue, doc: Document, lines: LineCounter, file: string, setKeys: Set<string>, schema: z.ZodType): string {
  const path = issue.path.map((p) => (typeof p === 'number' ? p : String(p)));
  if (issue.code === 'unrecognized_keys') {
    return issue.keys
      .map((k) => {
        const full = [...path, k];
        return `${where(doc, lines, file, full, setKeys)} ${issuePath(full)}: unknown key${knownKeys(schema, path)}`;
      })
      .join('\n');
  }
  return `${where(doc, lines, file, path, setKeys)} ${issuePath(path)}: ${issueText(issue)}`;
}

/** `file:line` of the key (or of the closest existing parent), or `--set key` when an override put it there. */
function where(doc: Document, lines: LineCounter, file: string, path: (string | number)[], setKeys: Set<string>): string {
  const dotted = path.join('.');
  if (setKeys.has(dotted)) return `--set ${dotted} (${file})`;
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : (doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined);
    const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
    if (range) {
      // For a key, point at the pair: the value's node starts on the key's line for scalars and one line below for maps.
      const pos = lines.linePos(keyOffset(doc, path.slice(0, n)) ?? range[0]);
      return `${file}:${pos.line}`;
    }
  }
  return file;
}

/** Offset of the key node of the pair at `path` (so a missing-value or wrong-type error points at the key's line). */
function keyOffset(doc: Document, path: (string | number)[]): number | undefined {
  if (path.length === 0) return undefined;
  const parent = path.length === 1 ? doc.contents : doc.getIn(path.slice(0, -1), true);
  if (!isMap(parent)) return undefined;
  const last = path[path.length - 1];
  const pair = parent.items.find((p) => (p.key as { value?: unknown } | null)?.value === last);
  return (pair?.key as { range?: [number, number, number] } | undefined)?.range?.[0];
}

/** ` (known: a, b, c)` for the object schema at `path`, found by unwrapping defaults/nullables. */
function knownKeys(schema: z.ZodType, path: (string | number)[]): string {
  let node: unknown = schema;
  const unwrap = (n: unknown): unknown => {
    let cur = n as { def?: { innerType?: unknown }; shape?: unknown };
    while (cur?.def?.innerType && !cur.shape) cur = cur.def.innerType as typeof cur;
    return cur;
  };
  for (const key of path) {
    const shape = (unwrap(node) as { shape?: Record<string, unknown> }).shape;
    node = shape?.[String(key)];
    if (!node) return '';
  }
  const shape = (unwrap(node) as { shape?: Record<string, unknown> }).shape;
  return shape ? ` (known: ${Object.keys(shape).join(', ')})` : '';
}
