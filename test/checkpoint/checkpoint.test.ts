import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCheckpoint, saveCheckpoint, type CheckpointContents } from '../../src/checkpoint/checkpoint.ts';
import { resolveCheckpoint } from '../../src/checkpoint/resolve.ts';
import { readSafetensors } from '../../src/checkpoint/safetensors.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'checkpoint-test-'));
beforeAll(async () => {
  expect(await tf.setBackend('cpu')).toBe(true);
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const Q = 'model.transformer.blocks.0.q_proj.weight';
const WTE = 'model.transformer.wte.weight';
const NORM = 'model.transformer.blocks.0.attn_norm.weight';
const HEAD = 'model.transformer.ff_out.weight';

function bits(t: tf.Tensor): number[] {
  return Array.from(new Uint32Array((t.dataSync() as Float32Array).slice().buffer));
}

/** Params whose values encode `step`: q_proj [in=3, out=2] = step·100 + [[0,1],[2,3],[4,5]], etc. */
function contents(step: number): CheckpointContents {
  const seq = (n: number) => Array.from({ length: n }, (_, i) => step * 100 + i);
  return {
    config: { d_model: 3, vocab_size: 4, step },
    params: {
      [Q]: tf.tensor2d(seq(6), [3, 2]),
      [WTE]: tf.tensor2d(seq(12), [4, 3]),
      [NORM]: tf.tensor1d([1, -0, 0.1 + step]),
      [HEAD]: tf.tensor2d(seq(12).map((v) => v / 7), [3, 4]),
    },
    tokenizerJson: `{"version":"1.0","step":${step}}`,
    optimizer: { [`exp_avg.${Q}`]: tf.tensor2d(seq(6).map((v) => -v), [3, 2]), [`exp_avg_sq.${Q}`]: tf.tensor2d(seq(6), [3, 2]) },
    trainerState: { step, rng: { data: [1, 2, 3] }, cursor: 17 },
  };
}

function disposeAll(c: { params: Record<string, tf.Tensor>; optimizer?: Record<string, tf.Tensor> }): void {
  tf.dispose([...Object.values(c.params), ...Object.values(c.optimizer ?? {})]);
}

function entries(dir: string): string[] {
  return fs.readdirSync(dir).sort();
}

describe('saveCheckpoint / loadCheckpoint', () => {
  it('round-trips bit for bit and stores linear weights [out, in]', async () => {
    const run = path.join(root, 'roundtrip');
    const c = contents(1);
    const before = tf.memory().numTensors;
    const dir = await saveCheckpoint(run, 'step-000001', c);
    expect(tf.memory().numTensors).toBe(before);
    expect(dir).toBe(path.join(run, 'step-000001'));
    expect(entries(run)).toEqual(['latest', 'step-000001']);
    expect(fs.readFileSync(path.join(run, 'latest'), 'utf8')).toBe('step-000001\n');
    expect(entries(dir)).toEqual(['config.json', 'model.safetensors', 'optimizer.safetensors', 'tokenizer.json', 'trainer_state.json']);

    // On disk: q_proj [in=3, out=2] [[100,101],[102,103],[104,105]] -> [out=2, in=3] [[100,102,104],[101,103,105]].
    const onDisk = readSafetensors(path.join(dir, 'model.safetensors'));
    expect(onDisk.metadata).toEqual({ format: 'pt' });
    expect(onDisk.tensors[Q].shape).toEqual([2, 3]);
    expect(Array.from(onDisk.tensors[Q].data)).toEqual([100, 102, 104, 101, 103, 105]);
    expect(onDisk.tensors[WTE].shape).toEqual([4, 3]); // embedding: not a linear weight, stored as is
    expect(Array.from(onDisk.tensors[WTE].data)).toEqual(Array.from({ length: 12 }, (_, i) => 100 + i));
    expect(onDisk.tensors[HEAD].shape).toEqual([4, 3]); // LM head d=3 -> V=4, stored [V, d]
    expect(onDisk.tensors[NORM].shape).toEqual([3]);
    const optOnDisk = readSafetensors(path.join(dir, 'optimizer.safetensors'));
    expect(optOnDisk.tensors[`exp_avg.${Q}`].shape).toEqual([3, 2]); // optimizer state is stored as given

    const loaded = loadCheckpoint(run); // via the run dir's `latest`
    expect(loaded.dir).toBe(dir);
    expect(loaded.config).toEqual({ d_model: 3, vocab_size: 4, step: 1 });
    expect(loaded.tokenizerJson).toBe(c.tokenizerJson);
    expect(loaded.trainerState).toEqual({ step: 1, rng: { data: [1, 2, 3] }, cursor: 17 });
    expect(Object.keys(loaded.params).sort()).toEqual(Object.keys(c.params).sort());
    for (const [name, t] of Object.entries(c.params)) {
      expect(loaded.params[name].shape).toEqual(t.shape);
      expect(bits(loaded.params[name])).toEqual(bits(t)); // includes -0 in the norm weight
    }
    for (const [name, t] of Object.entries(c.optimizer!)) {
      expect(loaded.optimizer![name].shape).toEqual(t.shape);
      expect(bits(loaded.optimizer![name])).toEqual(bits(t));
    }
    disposeAll(loaded);
    disposeAll(c);
  });

  it('loads a checkpoint dir directly; optimizer and trainer state are optional', async () => {
    const run = path.join(root, 'minimal');
    const c = contents(2);
    const dir = await saveCheckpoint(run, 'final', { config: c.config, params: c.params, tokenizerJson: c.tokenizerJson });
    expect(entries(dir)).toEqual(['config.json', 'model.safetensors', 'tokenizer.json']);
    const loaded = loadCheckpoint(dir);
    expect(loaded.optimizer).toBeUndefined();
    expect(loaded.trainerState).toBeUndefined();
    expect(Array.from(loaded.params[Q].dataSync())).toEqual([200, 201, 202, 203, 204, 205]);
    disposeAll(loaded);
    disposeAll(c);
  });

  it('survives a simulated crash and cleans up on the next save', async () => {
    const run = path.join(root, 'crash');
    const c1 = contents(1);
    await saveCheckpoint(run, 'step-000001', c1);
    // A save of step 2 killed mid-way: a partial temp dir, and a temp `latest` that was never renamed into place.
    const partial = path.join(run, '.tmp-step-000002-999999-0badc0de');
    fs.mkdirSync(partial);
    fs.writeFileSync(path.join(partial, 'model.safetensors'), Buffer.from([1, 2, 3]));
    fs.writeFileSync(path.join(run, '.tmp-latest-999999-deadbeef'), 'step-000002\n');
    // A prune or replace killed after its rename: the old dir sits under a temp name.
    fs.mkdirSync(path.join(run, '.tmp-old-step-000000-999999-12345678'));

    expect(resolveCheckpoint(run)).toBe(path.join(run, 'step-000001'));
    const l1 = loadCheckpoint(run);
    expect(l1.trainerState).toEqual(c1.trainerState);
    disposeAll(l1);

    const c2 = contents(2);
    await saveCheckpoint(run, 'step-000002', c2);
    expect(entries(run)).toEqual(['latest', 'step-000001', 'step-000002']);
    expect(resolveCheckpoint(run)).toBe(path.join(run, 'step-000002'));
    disposeAll(c1);
    disposeAll(c2);
  });

  it('replaces an existing checkpoint of the same name, including the one `latest` names', async () => {
    const run = path.join(root, 'replace');
    const c1 = contents(1);
    const c2 = contents(2);
    await saveCheckpoint(run, 'step-000005', c1);
    await saveCheckpoint(run, 'step-000005', c2);
    expect(entries(run)).toEqual(['latest', 'step-000005']);
    const loaded = loadCheckpoint(run);
    expect(loaded.trainerState).toEqual(c2.trainerState);
    expect(bits(loaded.params[Q])).toEqual(bits(c2.params[Q]));
    disposeAll(loaded);
    // A crash between the two renames of a replace leaves `latest` on the hard-linked stand-in: it resolves, and the
    // next save keeps it until `latest` has moved on.
    const standIn = '.tmp-prev-step-000005-999999-00000000';
    fs.renameSync(path.join(run, 'step-000005'), path.join(run, standIn));
    fs.writeFileSync(path.join(run, 'latest'), `${standIn}\n`);
    expect(resolveCheckpoint(run)).toBe(path.join(run, standIn));
    await saveCheckpoint(run, 'step-000006', c1);
    expect(entries(run)).toEqual(['latest', 'step-000006']);
    fs.writeFileSync(path.join(run, 'latest'), 'gone\n');
    expect(() => resolveCheckpoint(run)).toThrow(/latest names 'gone', which does not exist/);
    disposeAll(c1);
    disposeAll(c2);
  });

  it('keepLast prunes the oldest step-* dirs but never the one `latest` names', async () => {
    const run = path.join(root, 'keep');
    for (const s of [1, 2, 3, 4, 5, 10]) {
      const c = contents(s);
      await saveCheckpoint(run, `step-${String(s).padStart(6, '0')}`, c, { keepLast: 2 });
      disposeAll(c);
    }
    fs.mkdirSync(path.join(run, 'best')); // not a step-* dir: never pruned
    expect(entries(run)).toEqual(['best', 'latest', 'step-000005', 'step-000010']);
    // `latest` older than the newest: step-000003 is kept because `latest` names it, step-000010 as the newest.
    const c3 = contents(3);
    await saveCheckpoint(run, 'step-000003', c3, { keepLast: 1 });
    expect(entries(run)).toEqual(['best', 'latest', 'step-000003', 'step-000010']);
    // Numeric order, not string order: step-99 < step-100 (string order would keep step-99 and prune step-100).
    const c99 = contents(99);
    await saveCheckpoint(run, 'step-100', c99, { keepLast: 1 });
    expect(entries(run)).toEqual(['best', 'latest', 'step-100']);
    await saveCheckpoint(run, 'step-99', c99, { keepLast: 1 });
    expect(entries(run)).toEqual(['best', 'latest', 'step-100', 'step-99']);
    disposeAll(c3);
    disposeAll(c99);
    await expect(saveCheckpoint(run, 'step-1', contents(1), { keepLast: 0 })).rejects.toThrow(/keepLast \(0\) must be an integer >= 1/);
  });

  it('rejects bad names and bad linear weights without leaving files behind', async () => {
    const run = path.join(root, 'bad');
    const c = contents(1);
    await expect(saveCheckpoint(run, 'latest', c)).rejects.toThrow(/checkpoint name 'latest'/);
    await expect(saveCheckpoint(run, '../x', c)).rejects.toThrow(/checkpoint name '\.\.\/x'/);
    const bad = { ...c, params: { ...c.params, [Q]: tf.tensor1d([1, 2, 3]) } };
    await expect(saveCheckpoint(run, 'step-1', bad)).rejects.toThrow(/q_proj\.weight' expected \[in, out\], got \[3\]/);
    expect(entries(run)).toEqual([]);
    disposeAll(bad);
    disposeAll(c);
  });
});

describe('resolveCheckpoint', () => {
  it('names the path when it is neither a checkpoint nor a run dir', () => {
    const empty = path.join(root, 'empty');
    fs.mkdirSync(empty);
    expect(() => resolveCheckpoint(empty)).toThrow(new RegExp(`${empty} is neither a checkpoint directory \\(no model.safetensors\\) nor a run directory`));
    expect(() => resolveCheckpoint(path.join(root, 'nope'))).toThrow(/nope does not exist/);
    const partial = path.join(root, 'partial');
    fs.mkdirSync(partial);
    fs.writeFileSync(path.join(partial, 'model.safetensors'), '');
    expect(() => resolveCheckpoint(partial)).toThrow(/partial is incomplete: missing config\.json, tokenizer\.json/);
  });
});
