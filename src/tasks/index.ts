/** Synthetic reasoning tasks: generators and exact solvers (d1's 4x4 Sudoku and 3-number Countdown). */
export * from './sudoku.ts';
export * from './countdown.ts';
