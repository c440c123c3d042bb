/**
 * Why the training-size study's E-only relaxations are slow (issue 12), on the default report's setting (eam-2d
 * vacancy, reference ball R = 16, delta regime: prior alpha 3.6, C 0.03 + level-3 correction, weights E 1 F 1 V 0.1
 * FC 0.01, no rattled copies, perfect cells always):
 *   1. the lowest eigenvalues of the Hessian of a 10 x 10 perfect periodic cell at the reference r0, for the
 *      reference, the prior, and the E-only and E+F MLIPs at R_dom 7 and 8 (dense, from Hessian-vector products);
 *   2. with `--relax`: the E-only MLIP at R_dom 7 relaxed in the reference ball by 'auto' (the study's solver) and by
 *      plain 'lbfgs' from the same start: iterations, Hessian-vector products, wall time and the formation energy each
 *      reaches (minutes).
 * Usage: npx tsx scripts/e-only-probe.ts [--relax]
 */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { LinearTrainer } from '../src/fit/linear.ts';
import type { ObservationSet } from '../src/fit/types.ts';
import { periodicDomain } from '../src/lattice/domain.ts';
import { DeltaTrainer, fitStep, mlipRelaxStep, referenceStep, trainingStep, type FitRecord } from '../src/pipeline/steps.ts';
import { makePotential } from '../src/potentials/defaults.ts';
import { hessianVector } from '../src/potentials/evaluate.ts';
import type { SitePotential } from '../src/potentials/types.ts';

const ref = referenceStep({ potential: 'eam-2d', defect: 'vacancy', refSize: 16, tol: 1e-10, solver: 'auto' });
const prior = makePotential('eam-2d', { alpha: 3.6, C: 0.03 });

function lowestEigenvalues(pot: SitePotential, reps = 10): string {
  const dom = periodicDomain(ref.lattice, 'none', 1, pot.cutoff, [reps, reps]);
  const n = dom.structure.positions.length;
  const H = new Matrix(n, n);
  for (let j = 0; j < n; j++) {
    const v = new Float64Array(n);
    v[j] = 1;
    const h = hessianVector(pot, dom.structure, v);
    for (let i = 0; i < n; i++) H.set(i, j, h[i]);
  }
  const ev = new EigenvalueDecomposition(H.add(H.transpose()).mul(0.5)).realEigenvalues.sort((a, b) => a - b);
  return `${n / 2} atoms: lowest ${ev.slice(0, 4).map((x) => x.toExponential(2)).join(' ')}; largest ${ev[ev.length - 1].toExponential(2)}`;
}

async function fitted(set: ObservationSet, rDom: number): Promise<FitRecord> {
  const tr = await trainingStep(ref, { rDom, observations: set, rattled: 0, rattleAmplitude: 0.03, seed: 1, perfectCells: 'always', excludeRoles: [] });
  return fitStep(tr, { trainer: new DeltaTrainer(prior, new LinearTrainer({ basis: { level: 3 }, weights: { E: 1, F: 1, V: 0.1, FC: 0.01 } })) });
}

console.log(`reference  ${lowestEigenvalues(ref.pot)}`);
console.log(`prior      ${lowestEigenvalues(prior)}`);
for (const set of ['E', 'E+F'] as const) {
  for (const R of [7, 8]) console.log(`${set.padEnd(3)} R_dom ${R} ${lowestEigenvalues((await fitted(set, R)).model.potential)}`);
}
if (process.argv.includes('--relax')) {
  const fit = await fitted('E', 7);
  for (const solver of ['auto', 'lbfgs'] as const) {
    const t = performance.now();
    const m = mlipRelaxStep(ref, fit, { tol: 1e-10, solver });
    const r = m.relaxation.result;
    const stages = r.stages.map((s) => `${s.solver} ${s.iterations} it, ${s.forceEvaluations} F, ${s.hessianVectorProducts ?? 0} Hv, ${s.wallTimeSeconds.toFixed(1)} s`).join('; ');
    console.log(`E R_dom 7 relaxed by ${solver}: ${((performance.now() - t) / 1000).toFixed(1)} s (${stages}), E_f ${m.relaxation.formationEnergy.toFixed(4)}`);
  }
}
