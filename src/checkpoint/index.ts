export { readSafetensors, writeSafetensors, type SafetensorsDtype, type SafetensorsFile, type SafetensorsTensor } from './safetensors.ts';
export {
  LATEST_FILE,
  loadCheckpoint,
  readLatest,
  resolveCheckpoint,
  saveCheckpoint,
  type CheckpointContents,
  type LoadedCheckpoint,
  type SaveOptions,
} from './checkpoint.ts';
