import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', '.scratch*/**'],
    // Real models on a 2-core machine: generous per-test time, files one at a time so timings stay sane.
    testTimeout: 120_000,
    hookTimeout: 300_000,
    fileParallelism: false,
    // After each file: nothing of it still running (a leftover would load the files after it).
    setupFiles: ['./test/support/leftovers.ts'],
    reporters: ['default', './test/support/closingLine.ts'],
  },
});
