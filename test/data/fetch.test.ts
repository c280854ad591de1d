import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchDatasets, SOURCES } from '../../src/data/fetch.ts';
import { DATA_DIR } from '../paths.ts';

// A local server on 127.0.0.1 stands in for the public hosts (this machine has no other network).
const body = Buffer.from('{"question":"1+1?","answer":"#### 2"}\n');
const hash = crypto.createHash('sha256').update(body).digest('hex');
let server: http.Server;
let base = '';

beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.url === '/plain') res.end(body);
    else if (req.url === '/gz') res.end(zlib.gzipSync(body));
    else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => server.close());

describe('fetchDatasets', () => {
  it('downloads, gunzips, verifies the hash, and keeps files already present', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fetch-'));
    const sources = [
      { file: 'a/plain.jsonl', url: `${base}/plain`, sha256: hash },
      { file: 'b/gz.jsonl', url: `${base}/gz`, sha256: hash, gunzip: true },
    ];
    expect((await fetchDatasets(dir, sources)).map((r) => r.status)).toEqual(['downloaded', 'downloaded']);
    expect(fs.readFileSync(path.join(dir, 'b/gz.jsonl'))).toEqual(body);
    expect((await fetchDatasets(dir, sources)).map((r) => r.status)).toEqual(['present', 'present']);
  });

  it('reports a wrong hash (refused with strict) and a failed download without throwing', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fetch-'));
    const r = await fetchDatasets(dir, [{ file: 'x.jsonl', url: `${base}/plain`, sha256: '0'.repeat(64) }, { file: 'y.jsonl', url: `${base}/missing`, sha256: hash }], { strict: true });
    expect(r[0].status).toBe('hash_mismatch');
    expect(fs.existsSync(path.join(dir, 'x.jsonl'))).toBe(false);
    expect(r[1]).toMatchObject({ status: 'failed', detail: expect.stringContaining('HTTP 404') });
  });

  it("lists every data set the project reads, with the hashes of the repository's data/", () => {
    for (const s of SOURCES) {
      const local = path.join(DATA_DIR, s.file);
      expect(crypto.createHash('sha256').update(fs.readFileSync(local)).digest('hex')).toBe(s.sha256);
    }
    expect(SOURCES.map((s) => s.file.split('/')[0]).sort()).toEqual(['countdown', 'gsm8k', 'gsm8k', 'humaneval', 'math500', 'mbpp', 'mbpp', 'sudoku']);
    // and data/ holds nothing else but its README
    const committed = fs.readdirSync(DATA_DIR, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).map((d) => path.relative(DATA_DIR, path.join(d.parentPath, d.name))).sort();
    expect(committed).toEqual(['README.md', ...SOURCES.map((s) => s.file)].sort());
  });
});
