import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { tableFromArrays, tableFromJSON, tableToIPC } from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataError } from '../../src/errors.ts';
import { dataFile, loadRows, readArrow, readCsv, readJsonl, REPO_ROOT, resolveDataDir } from '../../src/data/index.ts';
import { DATA_DIR, dataPath } from '../paths.ts';

let dir: string;
const write = (name: string, content: string | Uint8Array): string => {
  const file = path.join(dir, name);
  fs.writeFileSync(file, content);
  return file;
};

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'data-test-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('readJsonl', () => {
  it('reads objects, skips blank lines, honours limit', () => {
    const file = write('a.jsonl', '{"q":"x","n":1}\n\n{"q":"y","n":2}\n{"q":"z","n":3}\n');
    expect(readJsonl(file)).toEqual([{ q: 'x', n: 1 }, { q: 'y', n: 2 }, { q: 'z', n: 3 }]);
    expect(readJsonl(file, { limit: 2 })).toEqual([{ q: 'x', n: 1 }, { q: 'y', n: 2 }]);
  });

  it('names file:line of a malformed line or a non-object', () => {
    const bad = write('bad.jsonl', '{"q":1}\n\n{"q":\n');
    expect(() => readJsonl(bad)).toThrow(DataError);
    expect(() => readJsonl(bad)).toThrow(`${bad}:3: malformed JSON`);
    const arr = write('arr.jsonl', '[1,2]\n');
    expect(() => readJsonl(arr)).toThrow(`${arr}:1: expected a JSON object`);
  });

  it('a missing file says how to get the data', () => {
    expect(() => readJsonl(path.join(dir, 'nope.jsonl'))).toThrow(/file not found.*yarn data:fetch/);
  });
});

describe('readCsv', () => {
  it('keeps strings (leading zeros), handles quotes, CRLF and a trailing newline', () => {
    const file = write('s.csv', 'Puzzle,Solution,Note\r\n0340100000010003,2341142332144132,"a, ""b"""\r\n1000,2000,"multi\nline"\r\n');
    expect(readCsv(file)).toEqual([
      { Puzzle: '0340100000010003', Solution: '2341142332144132', Note: 'a, "b"' },
      { Puzzle: '1000', Solution: '2000', Note: 'multi\nline' },
    ]);
  });

  it('names file:line of a row with the wrong field count', () => {
    const file = write('bad.csv', 'a,b\n1,2\n"x\ny",2\n1,2,3\n');
    expect(() => readCsv(file)).toThrow(`${file}:5: 3 fields`);
  });

  it('reads the d1 Sudoku test file: 500 rows of 16-character strings', () => {
    const rows = readCsv(dataPath('sudoku/4x4_test_sudoku.csv'));
    expect(rows.length).toBe(500);
    expect(rows[0]).toEqual({ Puzzle: '3102200002100320', Solution: '3142243142131324' });
  });
});

describe('readArrow', () => {
  it('reads an IPC stream (as HF datasets caches are) and an IPC file to plain rows', () => {
    const table = tableFromJSON([
      { question: 'q1', nums: [1, 2], meta: { k: 'a' } },
      { question: 'q2', nums: [3], meta: { k: 'b' } },
    ]);
    const want = [
      { question: 'q1', nums: [1, 2], meta: { k: 'a' } },
      { question: 'q2', nums: [3], meta: { k: 'b' } },
    ];
    expect(readArrow(write('t.arrow', tableToIPC(table, 'stream')))).toEqual(want);
    expect(readArrow(write('f.arrow', tableToIPC(table, 'file')))).toEqual(want);
  });

  it('turns int64 into numbers when exact, else keeps bigint', () => {
    const table = tableFromArrays({ id: BigInt64Array.from([7n, 2n ** 60n]) });
    expect(readArrow(write('big.arrow', tableToIPC(table, 'stream')))).toEqual([{ id: 7 }, { id: 2n ** 60n }]);
  });

  it('a file that is not Arrow gives a DataError naming it', () => {
    const file = write('junk.arrow', 'not arrow');
    expect(() => readArrow(file)).toThrow(DataError);
    expect(() => readArrow(file)).toThrow(file);
  });
});

describe('loadRows', () => {
  it('picks the reader by extension and maps fields, keeping the original columns', () => {
    const jsonl = write('m.jsonl', '{"question":"2+2?","answer":"4"}\n');
    expect(loadRows({ path: jsonl, fields: { prompt: 'question' } })).toEqual([{ question: '2+2?', answer: '4', prompt: '2+2?' }]);
    const json = write('m.json', '[{"text":"t","code":"c"}]');
    expect(loadRows({ path: json, fields: { prompt: 'text', answer: 'code' } })).toEqual([{ text: 't', code: 'c', prompt: 't', answer: 'c' }]);
    const jsonLines = write('lines.json', '{"a":1}\n{"a":2}\n');
    expect(loadRows({ path: jsonLines })).toEqual([{ a: 1 }, { a: 2 }]);
    const csv = write('m.csv', 'Puzzle,Solution\n0001,1234\n');
    expect(loadRows({ path: csv, fields: { puzzle: 'Puzzle', solution: 'Solution' } })).toEqual([{ Puzzle: '0001', Solution: '1234', puzzle: '0001', solution: '1234' }]);
    const stream = write('m.arrow', tableToIPC(tableFromJSON([{ q: 'x' }]), 'stream'));
    expect(loadRows({ path: stream, fields: { prompt: 'q' } })).toEqual([{ q: 'x', prompt: 'x' }]);
    const txt = write('m.txt', '{"a":1}\n');
    expect(loadRows({ path: txt, format: 'jsonl' })).toEqual([{ a: 1 }]);
    expect(() => loadRows({ path: txt })).toThrow(/cannot tell the format/);
  });

  it('a missing mapped column names the file, the line or row, and the column', () => {
    const jsonl = write('miss.jsonl', '{"question":"a"}\n\n{"q":"b"}\n');
    expect(() => loadRows({ path: jsonl, fields: { prompt: 'question' } })).toThrow(`${jsonl}:3: column 'question' (data.fields.prompt) is missing`);
    const csv = write('miss.csv', 'a,b\n1,2\n');
    expect(() => loadRows({ path: csv, fields: { answer: 'c' } })).toThrow(`${csv}:2: column 'c'`);
    const arrow = write('miss.arrow', tableToIPC(tableFromJSON([{ q: 'x' }, { q: 'y' }]), 'stream'));
    expect(() => loadRows({ path: arrow, fields: { prompt: 'question' } })).toThrow(`${arrow}: row 0: column 'question'`);
  });
});

describe('resolveDataDir / dataFile', () => {
  it("prefers the configured value, then DIFFRL_DATA_DIR, then the repository's data/", () => {
    const saved = process.env.DIFFRL_DATA_DIR;
    try {
      process.env.DIFFRL_DATA_DIR = path.join(os.tmpdir(), 'env-data');
      expect(resolveDataDir(path.join(os.tmpdir(), 'configured'))).toBe(path.join(os.tmpdir(), 'configured'));
      expect(resolveDataDir()).toBe(path.join(os.tmpdir(), 'env-data'));
      delete process.env.DIFFRL_DATA_DIR;
      expect(resolveDataDir(null)).toBe(path.join(REPO_ROOT, 'data'));
      expect(resolveDataDir(null)).toBe(DATA_DIR);
    } finally {
      if (saved === undefined) delete process.env.DIFFRL_DATA_DIR;
      else process.env.DIFFRL_DATA_DIR = saved;
    }
  });

  it('dataFile names the directory and suggests yarn data:fetch', () => {
    write('here.jsonl', '{}\n');
    expect(dataFile(dir, 'here.jsonl')).toBe(path.join(dir, 'here.jsonl'));
    expect(() => dataFile(dir, 'gsm8k/train.jsonl')).toThrow(`gsm8k/train.jsonl is missing from the data directory ${dir}. Run \`yarn data:fetch\``);
  });
});
