/** The order training rows are visited in, as a cursor that survives a resume (SFT and GRPO alike). */
import { ConfigError } from '../errors.ts';
import { Rng } from '../rng.ts';

export interface CursorState {
  epoch: number;
  pos: number;
}

/**
 * Walks the data in a fresh permutation per epoch. The permutation of epoch e depends only on (seed, e), so the cursor
 * {epoch, pos} alone restores the exact order on resume.
 */
export class BatchCursor {
  private perm: number[];
  constructor(
    private readonly n: number,
    private readonly seed: number,
    private state: CursorState = { epoch: 0, pos: 0 },
  ) {
    if (n === 0) throw new ConfigError('the training set is empty (every example was longer than data.seq_len?)');
    this.perm = this.permutation(this.state.epoch);
  }

  private permutation(epoch: number): number[] {
    return new Rng(this.seed, `data-epoch-${epoch}`).permutation(this.n);
  }

  next(batchSize: number): number[] {
    const out: number[] = [];
    while (out.length < batchSize) {
      if (this.state.pos === this.n) {
        this.state = { epoch: this.state.epoch + 1, pos: 0 };
        this.perm = this.permutation(this.state.epoch);
      }
      out.push(this.perm[this.state.pos++]);
    }
    return out;
  }

  getState(): CursorState {
    return { ...this.state };
  }
}
