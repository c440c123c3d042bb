/**
 * Stand-alone measurement of the relaxation benchmark (until the bench runner exists):
 *   npx tsx benchmarks/run-relax.ts [--sizes 1e4,1e5] [--solvers auto,precon-lbfgs,lbfgs,fire] [--limit-factor 10]
 * Prints one line per run and a JSON summary. Unpreconditioned solvers are stopped at limit-factor x the 'auto'
 * time (at least 60 s) and reported as not converged with their residual at that point.
 */
import { BENCH_SOLVERS, runRelax, vacancyBall, type RelaxRun } from './relax.bench.ts';
import type { SolverName } from '../src/relax/types.ts';

const argv = process.argv.slice(2);
const arg = (name: string, dflt: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : dflt;
};
const sizes = arg('sizes', '1e4,1e5').split(',').map(Number);
const solvers = arg('solvers', BENCH_SOLVERS.join(',')).split(',') as SolverName[];
const factor = Number(arg('limit-factor', '10'));
const runs: RelaxRun[] = [];
for (const n of sizes) {
  const { pot, dom } = vacancyBall(n);
  let ref = 60;
  for (const solver of solvers) {
    const limit = solver === 'auto' || solver === 'precon-lbfgs' ? undefined : Math.max(60, factor * ref);
    const r = runRelax(pot, dom, solver, limit);
    if (solver === 'auto' && r.converged) ref = r.wallTimeSeconds;
    runs.push(r);
    console.log(
      `${String(r.freeAtoms).padStart(7)} free  ${solver.padEnd(13)} ${r.converged ? 'converged' : 'NOT converged'}  ` +
        `${r.wallTimeSeconds.toFixed(1).padStart(7)} s  iterations ${String(r.iterations).padStart(6)}  ` +
        `force evals ${String(r.forceEvaluations).padStart(6)}  HVPs ${String(r.hessianVectorProducts).padStart(5)}  ` +
        `max|F| ${r.maxForce.toExponential(2)}  [${r.stages}]`,
    );
  }
}
console.log(JSON.stringify({ tol: 1e-10, system: 'eam-2d vacancy, clamped ball', runs }, null, 1));
