/** Synthetic reasoning tasks: generators and exact solvers (d1's 4x4 Sudoku and 3-number Countdown) and arithmetic word problems. */
export * from './sudoku.ts';
export * from './countdown.ts';
export * from './arithmetic.ts';
