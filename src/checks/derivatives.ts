import { buildNeighbourList } from '../lattice/neighbours.ts';
import { assertCellFitsCutoff, atomCount, type Structure } from '../lattice/structure.ts';
import { evaluate, forceConstants, hessianVector } from '../potentials/evaluate.ts';
import type { SitePotential } from '../potentials/types.ts';
import { Rng } from '../util/rng.ts';
import { applyStrain, caseConfig, deriveSeed, maxAbs, maxAbsDiff, worstComponent } from './configs.ts';
import { richardson, richardsonScalar } from './fd.ts';
import { FLOOR, HVP_TOLERANCE, hessianByFiniteDifferences, makeResult, skipResult, Worst, type CheckOptions, type CheckResult } from './types.ts';

/** Relative finite-difference step (times r0 for positions; a pure number for strain). */
const H_POS = 1e-3;
const H_STRAIN = 1e-3;
/**
 * Gradient differences have no large cancellation (unlike energy differences), so the HVP check affords a smaller step:
 * that keeps the steps from straddling the pieces of the C^3 cutoff polynomial, where the 4th derivative jumps and
 * Richardson cannot remove the O(h^2) term (measured: worst 2e-8 at h = 1e-3, 1e-11 at h = 2.5e-4, eam-fcc).
 */
const H_HVP = 2.5e-4;

function energyAt(pot: SitePotential, s: Structure, positions: Float64Array, cell: Float64Array | null): number {
  return evaluate(pot, { dim: s.dim, positions, cell }).energy;
}

/**
 * forces = -grad E. Each tested component x_k is moved by +-h and the energy differentiated by Richardson-extrapolated
 * central differences. Error measure: max_k |F_k - F_fd,k| / max(|F|_inf, FLOOR.force), a normwise relative error that
 * stays meaningful when some (or all) forces are small. Tolerance 1e-7 (issue 2).
 */
export function checkForces(pot: SitePotential, opts: CheckOptions): CheckResult {
  const tol = 1e-7;
  const nCases = opts.cases ?? 2;
  const w = new Worst();
  for (let c = 0; c < nCases; c++) {
    const seed = deriveSeed(opts.seed, c);
    const cfg = caseConfig(pot, opts, seed);
    const s = cfg.structure;
    const F = evaluate(pot, s).forces;
    const nc = F.length;
    const rng = new Rng(seed ^ 0x1234567);
    const maxComp = opts.components ?? 48;
    const comps = sampleIndices(rng, nc, maxComp);
    const scale = Math.max(maxAbs(F), FLOOR.force);
    const h = H_POS * cfg.r0;
    // One list with a skin serves every displaced copy: atoms move by at most h, far below the skin.
    assertCellFitsCutoff(s, pot.cutoff);
    const nl = buildNeighbourList(s, pot.cutoff + 0.1 * cfg.r0);
    let worst = 0;
    let at = -1;
    let fd = 0;
    for (const k of comps) {
      const x = s.positions.slice();
      const x0 = x[k];
      const d = richardsonScalar((t) => {
        x[k] = x0 + t;
        return pot.evaluate({ dim: s.dim, positions: x, cell: s.cell }, nl).energy;
      }, h);
      const err = Math.abs(F[k] + d) / scale;
      if (Number.isNaN(err) || err > worst) {
        worst = err;
        at = k;
        fd = -d;
        if (Number.isNaN(err)) break;
      }
    }
    w.update(worst, {
      seed,
      boundary: cfg.boundary,
      cutoffClearance: cfg.cutoffClearance,
      nudges: cfg.nudges,
      atoms: atomCount(s),
      atom: Math.floor(at / s.dim),
      component: at % s.dim,
      force: F[at],
      finiteDifference: fd,
      scale,
      componentsTested: comps.length,
    });
  }
  return makeResult('forces', pot, w.value, tol, w.detail, nCases);
}

/**
 * virial W = -dE/d(strain): positions and cell vectors move by (I + eps), and each of the dim^2 components eps_ab is
 * differentiated (not only the symmetric part, so an antisymmetric virial, i.e. a missing rotation invariance, shows).
 * Periodic cells only. Error: max |W - W_fd| / max(|W|_inf, N * FLOOR.virialPerAtom). Tolerance 1e-7.
 */
export function checkVirial(pot: SitePotential, opts: CheckOptions): CheckResult {
  // An engine without stress (e.g. an ASE calculator lacking it) says so; its NaN virial is not judged.
  const noVirial = pot.describe().virialUnavailable;
  if (typeof noVirial === 'string') return skipResult('virial', pot, noVirial, opts.seed);
  const tol = 1e-7;
  const nCases = opts.cases ?? 2;
  const w = new Worst();
  for (let c = 0; c < nCases; c++) {
    const seed = deriveSeed(opts.seed, c);
    const cfg = caseConfig(pot, { ...opts, boundary: 'periodic' }, seed);
    const s = cfg.structure;
    const d = s.dim;
    const W = evaluate(pot, s).virial;
    const n = atomCount(s);
    const scale = Math.max(maxAbs(W), n * FLOOR.virialPerAtom);
    const fd = new Float64Array(d * d);
    for (let ab = 0; ab < d * d; ab++) {
      const eps = new Float64Array(d * d);
      fd[ab] = -richardsonScalar((t) => {
        eps[ab] = t;
        return energyAt(pot, s, applyStrain(s.positions, eps, d), applyStrain(s.cell!, eps, d));
      }, H_STRAIN);
    }
    const { worst, at } = worstComponent(W, fd, scale);
    w.update(worst, {
      seed,
      boundary: 'periodic',
      atoms: n,
      component: [Math.floor(at / d), at % d],
      virial: W[at],
      finiteDifference: fd[at],
      scale,
    });
  }
  return makeResult('virial', pot, w.value, tol, w.detail, nCases);
}

/**
 * Hessian-vector product = directional derivative of the gradient: (H v) vs d/dt grad E(x + t v) by
 * Richardson-extrapolated central differences, v a random direction with |v|_inf = 1. Error:
 * |Hv - fd|_inf / max(|Hv|_inf, FLOOR.hessian). Tolerance 1e-7.
 */
export function checkHessianVector(pot: SitePotential, opts: CheckOptions): CheckResult {
  const tol = HVP_TOLERANCE;
  const nCases = opts.cases ?? 2;
  const w = new Worst();
  for (let c = 0; c < nCases; c++) {
    const seed = deriveSeed(opts.seed, c);
    const cfg = caseConfig(pot, opts, seed);
    const s = cfg.structure;
    const rng = new Rng(seed ^ 0x7654321);
    const v = new Float64Array(s.positions.length);
    for (let i = 0; i < v.length; i++) v[i] = rng.normal();
    const vm = maxAbs(v);
    for (let i = 0; i < v.length; i++) v[i] /= vm;
    const hv = hessianVector(pot, s, v);
    const h = H_HVP * cfg.r0;
    const x = new Float64Array(v.length);
    const fd = richardson((t) => {
      for (let i = 0; i < x.length; i++) x[i] = s.positions[i] + t * v[i];
      const F = evaluate(pot, { dim: s.dim, positions: x, cell: s.cell }).forces;
      return F.map((f) => -f);
    }, h);
    const scale = Math.max(maxAbs(hv), FLOOR.hessian);
    const { worst, at } = worstComponent(hv, fd, scale);
    w.update(worst, {
      seed,
      boundary: cfg.boundary,
      cutoffClearance: cfg.cutoffClearance,
      nudges: cfg.nudges,
      atoms: atomCount(s),
      atom: Math.floor(at / s.dim),
      component: at % s.dim,
      hessianVector: hv[at],
      finiteDifference: fd[at],
      scale,
    });
  }
  return makeResult('hessian-vector', pot, w.value, tol, w.detail, nCases);
}

/**
 * Force constants (Hessian blocks from src/potentials/evaluate.ts forceConstants): symmetric, H_ij^ab = H_ji^ba, and
 * translation invariant, sum_i H_ij = 0 (column sums of the computed columns) and sum_j H_ij = 0 (H applied to a rigid
 * translation, for every row i). Both hold exactly in exact arithmetic, so the error, relative to max |H|, is round-off:
 * tolerance 1e-11 (sums of ~100 terms, each with relative error ~1e-16). When the potential's Hessian-vector products
 * are finite differences of forces (external engines), each column carries the differencing error the hessian-vector
 * check bounds, so symmetry is verifiable only to that tolerance (1e-7); the result records which one applied.
 */
export function checkForceConstants(pot: SitePotential, opts: CheckOptions): CheckResult {
  const fdHessian = hessianByFiniteDifferences(pot);
  const tol = fdHessian ? HVP_TOLERANCE : 1e-11;
  const nCases = opts.cases ?? 2;
  const w = new Worst();
  for (let c = 0; c < nCases; c++) {
    const seed = deriveSeed(opts.seed, c);
    const cfg = caseConfig(pot, opts, seed);
    const s = cfg.structure;
    const d = s.dim;
    const n = atomCount(s);
    const rng = new Rng(seed ^ 0x2468ace);
    // Columns for a random subset of atoms keep the cost at a few dozen HVPs in 3D.
    const atoms = sampleIndices(rng, n, 12);
    const fc = forceConstants(pot, s, atoms);
    let hmax = 0;
    for (const col of fc.columns) hmax = Math.max(hmax, maxAbs(col));
    const scale = Math.max(hmax, FLOOR.hessian);
    let sym = 0;
    let symAt: number[] = [];
    for (let p = 0; p < atoms.length; p++)
      for (let q = 0; q < atoms.length; q++)
        for (let a = 0; a < d; a++)
          for (let b = 0; b < d; b++) {
            // H_{i a, j b} with i = atoms[p], j = atoms[q] is columns[q*d+b][i*d+a].
            const hij = fc.columns[q * d + b][atoms[p] * d + a];
            const hji = fc.columns[p * d + a][atoms[q] * d + b];
            const e = Math.abs(hij - hji) / scale;
            if (Number.isNaN(sym)) continue;
            if (Number.isNaN(e) || e > sym) {
              sym = e;
              symAt = [atoms[p], a, atoms[q], b];
            }
          }
    let colSum = 0;
    for (const col of fc.columns)
      for (let a = 0; a < d; a++) {
        let t = 0;
        for (let i = 0; i < n; i++) t += col[i * d + a];
        colSum = Math.max(colSum, Math.abs(t) / scale);
        if (Number.isNaN(t)) colSum = NaN;
      }
    const nl = buildNeighbourList(s, pot.cutoff);
    let rowSum = 0;
    for (let b = 0; b < d; b++) {
      const v = new Float64Array(n * d);
      for (let i = 0; i < n; i++) v[i * d + b] = 1;
      const e = maxAbs(pot.hessianVector(s, nl, v)) / scale;
      if (Number.isNaN(e) || e > rowSum) rowSum = e;
    }
    const worst = Number.isNaN(sym + colSum + rowSum) ? NaN : Math.max(sym, colSum, rowSum);
    w.update(worst, {
      seed,
      boundary: cfg.boundary,
      cutoffClearance: cfg.cutoffClearance,
      nudges: cfg.nudges,
      atoms: n,
      asymmetry: sym,
      asymmetryAt: symAt,
      columnSum: colSum,
      rowSum,
      maxBlockEntry: hmax,
      hessian: fdHessian ? 'finite differences of forces: tolerance of the hessian-vector check' : 'analytic: round-off tolerance',
    });
  }
  return makeResult('force-constants', pot, w.value, tol, w.detail, nCases);
}

/** Up to k distinct indices in [0, n), in increasing order (all of them when n <= k). */
export function sampleIndices(rng: Rng, n: number, k: number): number[] {
  const idx = Array.from({ length: n }, (_, i) => i);
  if (n <= k) return idx;
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rng.uniform() * (n - i));
    const t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
  }
  return idx.slice(0, k).sort((a, b) => a - b);
}
