import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', '.scratch*/**'],
    // Real models on a 2-core machine: generous per-test time, files one at a time so timings stay sane.
    testTimeout: 120_000,
    hookTimeout: 300_000,
    fileParallelism: false,
    reporters: ['default', './test/support/closingLine.ts'],
  },
});
