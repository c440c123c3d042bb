/**
 * `MLIP_VERIFY_THOROUGH=1` (`npm run test:thorough`) runs four times as many generated cases in the study properties
 * (P1-P6, pipeline), with timeouts to match; the default keeps each property well under a minute for CI. Larger sizes
 * and longer sequences are the studies' own `--thorough` mode (`mlip-verify report --thorough`).
 */
export const THOROUGH = process.env.MLIP_VERIFY_THOROUGH === '1';

/** Generated cases for a study property: n by default, 4n when thorough. */
export const runs = (n: number): number => (THOROUGH ? 4 * n : n);

/** A property's timeout: ms by default, 5 ms when thorough. */
export const timeout = (ms: number): number => (THOROUGH ? 5 * ms : ms);
