import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

// Generated (property-based) suites live in properties/, unit tests beside them as *.test.ts.
export default defineConfig({
  test: {
    include: ['properties/**/*.test.ts', 'src/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Vitest's default is one worker fewer than the cores (for its own main thread, which only collects results): on
    // a 2-core CI machine that ran the suite file by file on one core. Every core runs a test file.
    maxWorkers: Math.max(availableParallelism(), 1),
    // FC_SEED / FC_PATH replay a printed fast-check counterexample (properties/setup.ts).
    setupFiles: ['properties/setup.ts'],
  },
});
