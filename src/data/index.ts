/** Dataset readers (JSONL, JSON, CSV, Arrow IPC), column mapping and the data directory. */
export { readJsonl, readCsv, readText, type Row, type JsonlOptions, type LocatedRows } from './readers.ts';
export { readArrow } from './arrow.ts';
export { loadRows, loadRowsLocated, type DataFormat, type LoadRowsOptions } from './load_rows.ts';
export { resolveDataDir, dataFile, REPO_ROOT } from './data_dir.ts';
