// Entry point of a report worker thread (src/report/pool.ts): loads the TypeScript sources through tsx, as
// bin/mlip-verify.mjs does for the command itself, then serves jobs from pool-worker.ts.
import { register } from 'tsx/esm/api';

register();
await import('./pool-worker.ts');
