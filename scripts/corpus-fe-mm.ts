/**
 * The Fe_mm control (issue 14): why `check --engine 'lammps:eam/fs;* * Fe_mm.eam.fs Fe' --lattice bcc` used to fail
 * forces at 7.1e-7, natively and in LAMMPS alike. On the old check's worst case (seed 2527132011, open cluster, atom 36
 * z) it compares, for the native reader and for LAMMPS:
 *   - the old check: Richardson-extrapolated central differences with step 1e-3 r0, and how many table knots the
 *     stencil straddles;
 *   - the same Richardson extrapolation with a stencil inside one smooth piece (h below the distance to the nearest
 *     declared kink on this path);
 *   - the line integral of the force cut at the kinks (the new check), with its error estimate.
 * Writes reports/corpus/fe-mm.md atomically.   npx tsx scripts/corpus-fe-mm.ts
 */
import { join } from 'node:path';
import { caseConfig } from '../src/checks/configs.ts';
import { withLammpsKnots } from '../src/checks/engine-knots.ts';
import { richardsonScalar } from '../src/checks/fd.ts';
import { checkCutoffSmoothness, checkKnotRegularity, splineSecondDerivativeJumps } from '../src/checks/index.ts';
import { lineIntegral } from '../src/checks/quadrature.ts';
import { resolveEngine } from '../src/engines/resolve.ts';
import { writeFileAtomic } from '../src/io/atomic.ts';
import { buildNeighbourList } from '../src/lattice/neighbours.ts';
import { evaluate } from '../src/potentials/evaluate.ts';
import { readEamPotential } from '../src/potentials/eam-table.ts';
import { eamGrids, kinksAlong } from '../src/potentials/knots.ts';
import type { SitePotential } from '../src/potentials/types.ts';

const DIR = process.env.LAMMPS_POTENTIALS ?? '/usr/share/lammps/potentials';
const SPEC = 'lammps:eam/fs;* * Fe_mm.eam.fs Fe';
/** Stress-free bcc r0 of Fe_mm as `check --engine` solves it (printed on its first line). */
const R0 = 2.472783865504664;
const SEED = 2527132011;
const ATOM = 36;
const COMP = 2;

function study(pot: SitePotential): Record<string, number> {
  const cfg = caseConfig(pot, { seed: SEED, lattice: 'bcc', r0: R0 }, SEED);
  const s = cfg.structure;
  const k = ATOM * 3 + COMP;
  const nl = buildNeighbourList(s, pot.cutoff + 0.1 * R0);
  const F = evaluate(pot, s).forces;
  const scale = Math.max(...F.map(Math.abs), 1e-2);
  const x = s.positions.slice();
  const x0 = x[k];
  const E = (t: number) => {
    x[k] = x0 + t;
    return pot.evaluate({ dim: 3, positions: x, cell: s.cell }, nl);
  };
  const v = new Float64Array(x.length);
  v[k] = 1;
  const h = 1e-3 * R0;
  const oldFd = -richardsonScalar((t) => E(t).energy, h);
  const kinksOld = kinksAlong(pot, s, { positions: v, cell: null }, -h, h);
  // A stencil inside the smooth piece around t = 0: half the distance to the nearest kink.
  const near = Math.min(...kinksOld.map(Math.abs));
  const hSmooth = 0.5 * near;
  const smoothFd = -richardsonScalar((t) => E(t).energy, hSmooth);
  const kinksSmooth = kinksAlong(pot, s, { positions: v, cell: null }, -hSmooth, hSmooth);
  const half = 2e-5 * R0;
  const kinks = kinksAlong(pot, s, { positions: v, cell: null }, -half, half);
  const dE = E(half).energy - E(-half).energy;
  const I = lineIntegral((t) => [E(t).forces[k]], -half, half, kinks, 4);
  return {
    force: F[k],
    scale,
    oldRichardson: oldFd,
    oldError: Math.abs(F[k] - oldFd) / scale,
    oldStep: h,
    knotsInOldStencil: kinksOld.length,
    smoothStep: hSmooth,
    knotsInSmoothStencil: kinksSmooth.length,
    smoothRichardson: smoothFd,
    smoothError: Math.abs(F[k] - smoothFd) / scale,
    lineIntegralError: Math.abs(I.value[0] / (2 * half) + dE / (2 * half)) / scale,
    lineIntegralQuadratureEstimate: I.estimate[0] / (2 * half) / scale,
    lineIntegralKinks: kinks.length,
  };
}

const native = readEamPotential(join(DIR, 'Fe_mm.eam.fs'), { element: 'Fe' });
const eng = resolveEngine(SPEC);
const rows: Array<[string, Record<string, number>]> = [];
let regularity = '';
try {
  rows.push(['native (readEamPotential)', study(native)]);
  rows.push(['LAMMPS eam/fs', study(withLammpsKnots(eng.pot, SPEC))]);
  const kr = checkKnotRegularity(native, { seed: 1, lattice: 'bcc', r0: R0 });
  const cs = checkCutoffSmoothness(native, { seed: 1, lattice: 'bcc', r0: R0, cases: 2 });
  const csL = checkCutoffSmoothness(withLammpsKnots(eng.pot, SPEC), { seed: 1, lattice: 'bcc', r0: R0, cases: 2 });
  regularity = [
    `- knot-regularity (native tables): ${kr.status}: ${kr.summary ?? ''}`,
    `- cutoff-smoothness native: ${cs.status}: ${cs.summary ?? ''} Measured/predicted from the tables: ${JSON.stringify((cs.worstCase as Record<string, unknown>).predictedFromTables)} vs energy ${(cs.worstCase as Record<string, number>).energyJump}, force ${(cs.worstCase as Record<string, number>).forceJump}.`,
    `- cutoff-smoothness LAMMPS: ${csL.status}: ${csL.summary ?? ''}`,
  ].join('\n');
} finally {
  await eng.close();
}

function pairJumpNote(): string {
  const g = eamGrids(native)!.pair!;
  const at2 = splineSecondDerivativeJumps(g, 1.99, 2.01);
  const rest = Math.max(splineSecondDerivativeJumps(g, 0.7 * R0, 1.99).maxJump, splineSecondDerivativeJumps(g, 2.01, native.cutoff).maxJump);
  return `${at2.maxJump.toExponential(2)} in (r phi)'' at r = ${at2.at.toFixed(4)} A against at most ${rest.toExponential(2)} at every other knot in [0.7 r0, rc]`;
}

const f = (x: number) => (Number.isInteger(x) ? String(x) : x.toExponential(3));
const keys = Object.keys(rows[0][1]);
const md = [
  '# Fe_mm (Mendelev et al. 2003, eam/fs): why the old derivative checks failed',
  '',
  `Worst case of the old forces check: seed ${SEED} (open cluster), atom ${ATOM}, component ${COMP}, bcc r0 = ${R0}. Errors are`,
  'relative to max(|F|_inf, 1e-2). Regenerate: `npx tsx scripts/corpus-fe-mm.ts`.',
  '',
  `| quantity | ${rows.map((r) => r[0]).join(' | ')} |`,
  `|---|${rows.map(() => '---').join('|')}|`,
  ...keys.map((k) => `| ${k} | ${rows.map((r) => f(r[1][k])).join(' | ')} |`),
  '',
  '## Finding',
  '',
  'The old check differentiated the energy with a Richardson stencil of half-width 1e-3 r0, which straddles many knots of the',
  'tables (dr = 5.3e-4 A): across a knot the energy is only C1 (LAMMPS\' cubic Hermite spline), so the extrapolation\'s error',
  'model fails and its error is the 7e-7 reported. The same extrapolation with a stencil inside one smooth piece, and the',
  'line integral of the force cut at the declared knots, agree with the force to round-off, natively and in LAMMPS: the forces',
  'are the exact derivatives of the splined energy. No derivative bug, in LAMMPS or in the reader.',
  '',
  'Regularity (a finding, separate from consistency):',
  '',
  regularity,
  '',
  `The pair table's largest second-derivative jump, ${pairJumpNote()}, is a kink of the tabulated function itself near`,
  '2.0 A (where the published pair function changes form), not spline noise; the spline\'s own jumps elsewhere are two',
  'orders of magnitude smaller. At rc the tables stop one knot short (last knot 5.29947 A): LAMMPS clamps the last',
  'value, so E and F jump by ~1e-12 eV and ~1.4e-8 eV/A, exactly as the 1D tables predict: C-1 in principle,',
  'negligible in practice (a finding). Bcc Fe neighbours sit at 2.47 A and beyond, so the 2.0 A kink is met only in',
  'strongly compressed configurations; the Hessian jumps at every knot (C1 spline), which is what P1/P2 rates may feel.',
  '',
];
writeFileAtomic(join(process.cwd(), 'reports', 'corpus', 'fe-mm.md'), md.join('\n'));
console.log(md.join('\n'));
