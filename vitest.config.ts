import { defineConfig } from 'vitest/config';

// Generated (property-based) suites live in properties/, unit tests beside them as *.test.ts.
export default defineConfig({
  test: {
    include: ['properties/**/*.test.ts', 'src/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // FC_SEED / FC_PATH replay a printed fast-check counterexample (properties/setup.ts).
    setupFiles: ['properties/setup.ts'],
  },
});
