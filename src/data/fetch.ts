/**
 * Downloads the evaluation sets from their public sources into the data directory and checks each file's SHA-256
 * (the hashes of the copies this project was developed against). Files already present with the right hash are kept.
 * The repository commits these files in data/ (data/README.md); this re-downloads and verifies them.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

export interface DataSource {
  /** Path inside the data directory. */
  file: string;
  url: string;
  sha256: string;
  gunzip?: boolean;
}

const GH = 'https://raw.githubusercontent.com';
export const SOURCES: DataSource[] = [
  { file: 'gsm8k/train.jsonl', url: `${GH}/openai/grade-school-math/3101c7d5072418e28b9008a6636bde82a006892c/grade_school_math/data/train.jsonl`, sha256: '17f347dc51477c50d4efb83959dbb7c56297aba886e5544ee2aaed3024813465' },
  { file: 'gsm8k/test.jsonl', url: `${GH}/openai/grade-school-math/3101c7d5072418e28b9008a6636bde82a006892c/grade_school_math/data/test.jsonl`, sha256: '3730d312f6e3440559ace48831e51066acaca737f6eabec99bccb9e4b3c39d14' },
  { file: 'humaneval/HumanEval.jsonl', url: `${GH}/openai/human-eval/6d43fb980f9fee3c892a914eda09951f772ad10d/data/HumanEval.jsonl.gz`, sha256: '1d49078ba3e2b196b9344535bef34a43021f038fad9561d6ee7c53450609a6a2', gunzip: true },
  { file: 'mbpp/mbpp.jsonl', url: `${GH}/google-research/google-research/master/mbpp/mbpp.jsonl`, sha256: 'ccf64ceae9c5403bf50a044cb6d505bfd2a2963ee58338ba268fd65beab92a9f' },
  // Upstream stores it as compact JSON (Python json.dumps), the form committed in data/.
  { file: 'mbpp/sanitized-mbpp.json', url: `${GH}/google-research/google-research/master/mbpp/sanitized-mbpp.json`, sha256: 'ca95deaa9a01ef0a6f439f88bcf0dd3db3563d22f22aad6cae04ebb9a8d8c8e9' },
  { file: 'math500/test.jsonl', url: 'https://huggingface.co/datasets/HuggingFaceH4/MATH-500/resolve/main/test.jsonl', sha256: '35dc41080a3680858b27fa7e0533d2d547825316fc5dafe5d316f4ccc5a06132' },
  { file: 'sudoku/4x4_test_sudoku.csv', url: `${GH}/dllm-reasoning/d1/837888f22c21a5da91a0af2b0d7b19e81d9b47ec/dataset/4x4_test_sudoku.csv`, sha256: 'ef86c7c28ebef88484d85fda59b3909a7b621241aa1abf36343437dbc4a3ffb6' },
  { file: 'countdown/countdown_cd3_test.jsonl', url: `${GH}/dllm-reasoning/d1/837888f22c21a5da91a0af2b0d7b19e81d9b47ec/dataset/countdown_cd3_test.jsonl`, sha256: '9916f614621e26fb2b035ed4ea641e35e4fff0d533bb9b9c7bcaaa61017d88c6' },
];

export type FetchResult = { file: string; status: 'present' | 'downloaded' | 'hash_mismatch' | 'failed'; detail?: string };

const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

export async function fetchDatasets(dataDir: string, sources: DataSource[] = SOURCES, opts: { strict?: boolean } = {}): Promise<FetchResult[]> {
  const results: FetchResult[] = [];
  for (const src of sources) {
    const target = path.join(dataDir, src.file);
    if (fs.existsSync(target) && sha256(fs.readFileSync(target)) === src.sha256) {
      results.push({ file: src.file, status: 'present' });
      continue;
    }
    try {
      const res = await fetch(src.url);
      if (!res.ok) throw new Error(`HTTP ${res.status} from ${src.url}`);
      let body = Buffer.from(await res.arrayBuffer());
      if (src.gunzip) body = zlib.gunzipSync(body);
      const got = sha256(body);
      // A changed upstream file is saved (with a warning) unless strict: the loaders still validate every row.
      if (got !== src.sha256 && opts.strict) {
        results.push({ file: src.file, status: 'hash_mismatch', detail: `expected ${src.sha256}, got ${got}` });
        continue;
      }
      fs.mkdirSync(path.dirname(target), { recursive: true });
      const tmp = `${target}.tmp-${process.pid}`;
      fs.writeFileSync(tmp, body);
      fs.renameSync(tmp, target);
      results.push(got === src.sha256 ? { file: src.file, status: 'downloaded' } : { file: src.file, status: 'hash_mismatch', detail: `saved anyway; expected ${src.sha256}, got ${got}` });
    } catch (e) {
      results.push({ file: src.file, status: 'failed', detail: (e as Error).message });
    }
  }
  return results;
}
