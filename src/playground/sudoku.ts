/**
 * 4x4 Sudoku in the playground: the grid editor that writes the prompt (`{16 cells, 0 = empty}=`, the template of
 * tokenizer/templates.ts) and the grid view of a completion while it unmasks.
 */
import { el } from '../report/client_tables.ts';

const SIZE = 4;
const CELLS = SIZE * SIZE;
export const SUDOKU_PROMPT = /^[0-4]{16}=$/;

/** A 16-cell editor: digits 1-4, anything else empties the cell; arrows and typing move between cells. */
export function gridEditor(host: HTMLElement, onChange: (puzzle: string) => void): { set(puzzle: string): void } {
  const inputs = Array.from({ length: CELLS }, (_, i) => {
    const input = el('input', { class: 'cell', maxlength: '1', inputmode: 'numeric', 'aria-label': `row ${Math.floor(i / SIZE) + 1} column ${(i % SIZE) + 1}` }) as HTMLInputElement;
    input.addEventListener('input', () => {
      if (!/^[1-4]$/.test(input.value)) input.value = '';
      onChange(read());
      if (input.value !== '' && i + 1 < CELLS) inputs[i + 1].focus();
    });
    input.addEventListener('keydown', (e) => {
      const move: Record<string, number> = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -SIZE, ArrowDown: SIZE };
      const to = i + (move[e.key] ?? 0);
      if (e.key in move && to >= 0 && to < CELLS) {
        inputs[to].focus();
        e.preventDefault();
      }
    });
    return input;
  });
  host.replaceChildren(el('div', { class: 'sudoku editor' }, ...inputs));
  const read = () => inputs.map((c) => (c.value === '' ? '0' : c.value)).join('');
  return {
    set(puzzle: string) {
      inputs.forEach((c, i) => { c.value = puzzle[i] === '0' ? '' : puzzle[i]; });
    },
  };
}

/** True when `grid` (16 digits) fills every row, column and 2x2 box with 1-4 and keeps every clue of `puzzle`. */
export function isSolution(puzzle: string, grid: string): boolean {
  if (!/^[1-4]{16}$/.test(grid)) return false;
  if ([...puzzle].some((c, i) => c !== '0' && c !== grid[i])) return false;
  const groups: number[][] = [];
  for (let k = 0; k < SIZE; k++) {
    groups.push([0, 1, 2, 3].map((j) => k * SIZE + j)); // row k
    groups.push([0, 1, 2, 3].map((j) => j * SIZE + k)); // column k
    const r = 2 * Math.floor(k / 2);
    const c = 2 * (k % 2);
    groups.push([0, 1, 2, 3].map((j) => (r + Math.floor(j / 2)) * SIZE + c + (j % 2))); // box k
  }
  return groups.every((g) => new Set(g.map((i) => grid[i])).size === SIZE);
}

/**
 * The first 16 generated tokens as a grid: clues of the puzzle bold, cells still masked as `·`, cells revealed at
 * this step highlighted, a digit that contradicts a clue red.
 */
export function gridView(puzzle: string, cells: (string | null)[], fresh: boolean[]): HTMLElement {
  const view = el('div', { class: 'sudoku view' });
  for (let i = 0; i < CELLS; i++) {
    const v = cells[i];
    const cls = ['cell', puzzle[i] !== '0' ? 'clue' : '', v === null ? 'masked' : '', fresh[i] ? 'fresh' : '', v !== null && puzzle[i] !== '0' && v !== puzzle[i] ? 'wrong' : ''];
    view.append(el('span', { class: cls.filter(Boolean).join(' ') }, v ?? '·'));
  }
  return view;
}
