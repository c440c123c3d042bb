import fc from 'fast-check';

/**
 * Replaying a generated failure: fast-check prints `seed` and `path`; `FC_SEED=<seed> FC_PATH=<path> npx vitest run
 * <file>` reruns exactly that counterexample in properties that draw their seed per run (those with a seed fixed in
 * their parameters replay as they are). `FC_VERBOSE=1` lists every failing value encountered.
 */
const seed = process.env.FC_SEED;
if (seed !== undefined) {
  const n = Number(seed);
  if (!Number.isInteger(n)) throw new Error(`FC_SEED must be an integer, got '${seed}'`);
  fc.configureGlobal({
    seed: n,
    ...(process.env.FC_PATH ? { path: process.env.FC_PATH } : {}),
    ...(process.env.FC_VERBOSE === '1' ? { verbose: 2 } : {}),
  });
}
