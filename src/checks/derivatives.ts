import { buildNeighbourList, type NeighbourList } from '../lattice/neighbours.ts';
import { assertCellFitsCutoff, atomCount, type Structure } from '../lattice/structure.ts';
import { evaluate, forceConstants, hessianVector, listFor } from '../potentials/evaluate.ts';
import { declaresKinks, kinksAlong } from '../potentials/knots.ts';
import type { LinearPath, SitePotential } from '../potentials/types.ts';
import { Rng } from '../util/rng.ts';
import { applyStrain, caseConfig, deriveSeed, maxAbs } from './configs.ts';
import { lineIntegral } from './quadrature.ts';
import { roundOffSample } from './roundoff.ts';
import {
  DEFAULT_FORCE_COMPONENTS,
  FLOOR,
  HVP_TOLERANCE,
  hessianByFiniteDifferences,
  judge,
  JudgedWorst,
  judgedResult,
  makeResult,
  skipResult,
  Worst,
  type CheckOptions,
  type CheckResult,
} from './types.ts';

/**
 * Derivative checks as line integrals (src/checks/quadrature.ts): along a short straight path x(t) = x + t v,
 *   forces:          E(x(s)) - E(x(-s))      = -int F(x(t)) . v dt            (v = e_k, one force component),
 *   virial:          E(eps = s) - E(eps = -s) = -int W_ab(t) / (1 + t [a = b]) dt (strain path eps = t e_ab),
 *   hessian-vector:  grad E(x(s)) - grad E(x(-s)) = int H(x(t)) v dt           (v random),
 * which hold for any C1 energy (forces) or any energy whose Hessian-vector product is the derivative of its forces
 * between kinks, so a tabulated potential is judged on its pieces: paths are cut where the potential declares kinks
 * (src/potentials/knots.ts), and a second, lower-order quadrature on the same pieces plus a round-off sample give the
 * error estimate that every result carries (judge(): FAIL only above the tolerance and 3x the estimate).
 *
 * Path half-lengths start small enough that the energy difference is far above round-off (s = 2e-5 r0: a 1e-7
 * relative force error moves E by ~1e-9 |F| r0, round-off is ~1e-13 |E|) and are shortened (down to 1/64) while the
 * path crosses more than MAX_KINKS declared kinks, which keeps the cost of dense tables bounded.
 */
const S_POS = 2e-5;
const S_STRAIN = 2e-6;
const S_HVP = 2e-6;
const MAX_KINKS = 24;
const GL_ORDER = 4;

/**
 * Round-off bound of an end-point difference, in sampled round-offs (roundOffSample): two independent end points, and
 * three samples can undershoot the largest rounding by about 2x (LAMMPS Fe_mm: sampled 1.8e-12 eV, seen 3.6e-12).
 */
const NOISE_FACTOR = 4;

/** Shortest path half-length whose end-point round-off stays below a third of the tolerance. */
function minHalf(noise: number, tol: number, scale: number): number {
  return (3 * NOISE_FACTOR * noise) / (2 * tol * scale);
}

/**
 * Half-length and kinks of a path: start at s0 and shorten (by 4, at most 3 times) while more than MAX_KINKS kinks are
 * declared on it, but never below `minHalf`, where the round-off of the end-point difference would reach a tenth of
 * the tolerance.
 */
function pathWithKinks(pot: SitePotential, s: Structure, path: LinearPath, s0: number, minHalf: number): { half: number; kinks: number[] } {
  let half = Math.max(s0, minHalf);
  let kinks = kinksAlong(pot, s, path, -half, half);
  for (let k = 0; k < 3 && kinks.length > MAX_KINKS && half / 4 >= minHalf; k++) {
    half /= 4;
    kinks = kinksAlong(pot, s, path, -half, half);
  }
  return { half, kinks };
}

/** Skin of the lists the checks reuse along their paths (paths move atoms by 1e-4 A or less). */
const SKIN = 0.1;

/**
 * A neighbour list with a skin of SKIN r0, reused along a check's short paths instead of a build per evaluation (a
 * build costs ~3 evaluations of a long-cutoff EAM); engines, which find their own neighbours, get an empty one.
 */
function skinList(pot: SitePotential, s: Structure, r0: number): NeighbourList {
  assertCellFitsCutoff(s, pot.cutoff);
  return pot.ignoresNeighbourList ? listFor(pot, s) : buildNeighbourList(s, pot.cutoff + SKIN * r0);
}

/** The list of a strained copy (I + eps): the same pairs, their image shifts (lattice translations) strained too. */
function strainedList(nl: NeighbourList, eps: Float64Array, d: number): NeighbourList {
  // The half list's translation table (what the pair kernels read) and the full list's shifts (expanded on demand).
  const half = nl.half ? { ...nl.half, translations: applyStrain(nl.half.translations, eps, d) } : undefined;
  let shift: Float64Array | null = null;
  return {
    n: nl.n,
    dim: nl.dim,
    cutoff: nl.cutoff,
    get offsets() {
      return nl.offsets;
    },
    get index() {
      return nl.index;
    },
    get shift() {
      return (shift ??= applyStrain(nl.shift, eps, d));
    },
    ...(half ? { half } : {}),
  };
}

/** What every worst case records of its configuration. */
function caseDetail(cfg: ReturnType<typeof caseConfig>, seed: number): { seed: number } & Record<string, unknown> {
  return { seed, boundary: cfg.boundary, cutoffClearance: cfg.cutoffClearance, nudges: cfg.nudges, atoms: atomCount(cfg.structure) };
}

/** One path measurement: discrepancy, its error estimate, and what the report shows of it. */
interface PathMeasure {
  err: number;
  est: number;
  detail: { seed: number } & Record<string, unknown>;
}

/** How much longer the control path is than the first. */
const CONTROL_LENGTH = 4;

/**
 * Round-off control of a would-be FAIL. A derivative error is a property of F against E: its relative size is the same
 * on any short path. The round-off of an end-point energy difference divided by the path length falls as 1/length. So
 * when the first path fails, the same measurement is repeated on a path CONTROL_LENGTH times longer (its kinks cut as
 * before): a real error fails again, with both measurements in the record; a discrepancy that was round-off the
 * sample underestimated (an engine's extra unit conversions and summation orders; LAMMPS W_zhou: 1.4e-7 at 2e-6
 * strain) falls below the tolerance, and the longer path's result is the one judged, with the short path beside it.
 */
function withRoundOffControl(measure: (lengthFactor: number) => PathMeasure, tol: number): PathMeasure {
  const first = measure(1);
  if (judge(first.err, first.est, tol) !== 'fail' || !Number.isFinite(first.err)) return first;
  const second = measure(CONTROL_LENGTH);
  const control = {
    firstPath: { pathHalfLength: first.detail.pathHalfLength, discrepancy: first.err, errorEstimate: first.est },
    controlPath: { pathHalfLength: second.detail.pathHalfLength, discrepancy: second.err, errorEstimate: second.est },
    reading:
      judge(second.err, second.est, tol) === 'fail'
        ? `the discrepancy persists on a ${CONTROL_LENGTH}x longer path (a derivative error; round-off would have fallen ${CONTROL_LENGTH}x)`
        : `the discrepancy fell below the tolerance on a ${CONTROL_LENGTH}x longer path: end-point round-off, not a derivative error`,
  };
  return { ...second, detail: { ...second.detail, roundOffControl: control } };
}

/**
 * forces = -grad E, one component at a time: the mean force along the path e_k against the energy difference.
 * Error measure: |mean F_k - (-dE/2s)| / max(|F|_inf, FLOOR.force), estimate from quadrature and round-off, tolerance
 * 1e-7. Up to `components` components per configuration (default 48).
 */
export function checkForces(pot: SitePotential, opts: CheckOptions): CheckResult {
  const tol = 1e-7;
  const nCases = opts.cases ?? 2;
  const w = new JudgedWorst();
  for (let c = 0; c < nCases; c++) {
    const seed = deriveSeed(opts.seed, c);
    const cfg = caseConfig(pot, opts, seed);
    const s = cfg.structure;
    const base = evaluate(pot, s);
    const F = base.forces;
    const rng = new Rng(seed ^ 0x1234567);
    const comps = sampleIndices(rng, F.length, opts.components ?? DEFAULT_FORCE_COMPONENTS);
    const scale = Math.max(maxAbs(F), FLOOR.force);
    // One list with a skin serves every displaced copy: atoms move by at most s, far below the skin.
    assertCellFitsCutoff(s, pot.cutoff);
    const nl = skinList(pot, s, cfg.r0);
    const noise = roundOffSample(pot, s, cfg.r0, base, seed);
    for (const k of comps) {
      const v = new Float64Array(F.length);
      v[k] = 1;
      const measure = (f: number): PathMeasure => {
        const { half, kinks } = pathWithKinks(pot, s, { positions: v, cell: null }, f * S_POS * cfg.r0, f * minHalf(noise.energy, tol, scale));
        const x = s.positions.slice();
        const x0 = x[k];
        const at = (t: number) => {
          x[k] = x0 + t;
          return pot.evaluate({ dim: s.dim, positions: x, cell: s.cell }, nl);
        };
        const dE = at(half).energy - at(-half).energy;
        const I = lineIntegral((t) => [at(t).forces[k]], -half, half, kinks, GL_ORDER);
        const meanF = I.value[0] / (2 * half);
        const err = Math.abs(meanF + dE / (2 * half)) / scale;
        const est = (I.estimate[0] + NOISE_FACTOR * noise.energy) / (2 * half) / scale;
        return {
          err,
          est,
          detail: {
            ...caseDetail(cfg, seed),
            atom: Math.floor(k / s.dim),
            component: k % s.dim,
            force: F[k],
            meanForceAlongPath: meanF,
            energyDifferenceOver2s: -dE / (2 * half),
            pathHalfLength: half,
            kinksOnPath: kinks.length,
            errorEstimate: est,
            scale,
            componentsTested: comps.length,
          },
        };
      };
      const m = withRoundOffControl(measure, tol);
      w.update(m.err, m.est, tol, m.detail);
    }
  }
  const d = w.detail as Record<string, unknown>;
  return judgedResult('forces', pot, w, tol, nCases, `force on atom ${d.atom} component ${d.component} (seed ${d.seed})`);
}

/**
 * virial W = -dE/d(strain): positions and cell move by (I + eps), eps = t e_ab, for each of the dim^2 components (not
 * only the symmetric part, so an antisymmetric virial shows). Along that path dE/dt = -W_ab(t) (a != b) or
 * -W_aa(t) / (1 + t) (the strain of the strained cell is e_ab (I + t e_ab)^-1). Periodic cells only. Error
 * |mean W_ab + dE/2s| / max(|W|_inf, N FLOOR.virialPerAtom), tolerance 1e-7.
 */
export function checkVirial(pot: SitePotential, opts: CheckOptions): CheckResult {
  // An engine without stress (e.g. an ASE calculator lacking it) says so; its NaN virial is not judged.
  const noVirial = pot.describe().virialUnavailable;
  if (typeof noVirial === 'string') return skipResult('virial', pot, noVirial, opts.seed);
  const tol = 1e-7;
  const nCases = opts.cases ?? 2;
  const w = new JudgedWorst();
  for (let c = 0; c < nCases; c++) {
    const seed = deriveSeed(opts.seed, c);
    const cfg = caseConfig(pot, { ...opts, boundary: 'periodic' }, seed);
    const s = cfg.structure;
    const d = s.dim;
    const base = evaluate(pot, s);
    const W = base.virial;
    const n = atomCount(s);
    const scale = Math.max(maxAbs(W), n * FLOOR.virialPerAtom);
    const noise = roundOffSample(pot, s, cfg.r0, base, seed);
    // One list with a skin for every strained copy (its image shifts strained with the cell): the strains used move
    // atoms by at most ~1e-4 A, far below the skin.
    const nl = skinList(pot, s, cfg.r0);
    for (let ab = 0; ab < d * d; ab++) {
      const a = Math.floor(ab / d);
      const b = ab % d;
      const E = new Float64Array(d * d);
      E[ab] = 1;
      const path: LinearPath = { positions: applyStrainRate(s.positions, E, d), cell: applyStrainRate(s.cell!, E, d) };
      const at = (t: number) => {
        const eps = new Float64Array(d * d);
        eps[ab] = t;
        return pot.evaluate({ dim: d, positions: applyStrain(s.positions, eps, d), cell: applyStrain(s.cell!, eps, d) }, strainedList(nl, eps, d));
      };
      const measure = (f: number): PathMeasure => {
        const { half, kinks } = pathWithKinks(pot, s, path, f * S_STRAIN, f * minHalf(noise.energy, tol, scale));
        const dE = at(half).energy - at(-half).energy;
        const I = lineIntegral((t) => [at(t).virial[ab] / (a === b ? 1 + t : 1)], -half, half, kinks, GL_ORDER);
        const meanW = I.value[0] / (2 * half);
        const err = Math.abs(meanW + dE / (2 * half)) / scale;
        const est = (I.estimate[0] + NOISE_FACTOR * noise.energy) / (2 * half) / scale;
        return {
          err,
          est,
          detail: {
            seed,
            boundary: 'periodic',
            atoms: n,
            component: [a, b],
            virial: W[ab],
            meanVirialAlongPath: meanW,
            energyDifferenceOver2s: -dE / (2 * half),
            pathHalfLength: half,
            kinksOnPath: kinks.length,
            errorEstimate: est,
            scale,
          },
        };
      };
      const m = withRoundOffControl(measure, tol);
      w.update(m.err, m.est, tol, m.detail);
    }
  }
  const det = w.detail as Record<string, unknown>;
  return judgedResult('virial', pot, w, tol, nCases, `virial component ${JSON.stringify(det.component)} (seed ${det.seed})`);
}

/** E x for every row x (the velocity of the rows under the strain path (I + t E)). */
function applyStrainRate(x: Float64Array, E: Float64Array, d: number): Float64Array {
  const out = applyStrain(x, E, d);
  for (let i = 0; i < out.length; i++) out[i] -= x[i];
  return out;
}

/**
 * Hessian-vector product = derivative of the gradient along v: grad E(x + s v) - grad E(x - s v) against
 * int H(x + t v) v dt, v a random direction with |v|_inf = 1. Error |int Hv / 2s - (grad difference) / 2s|_inf /
 * max(|Hv|_inf, FLOOR.hessian), tolerance 1e-7. An engine whose products are finite differences of its forces, on a
 * potential that declares kinks, cannot be judged (its differencing step straddles the kinks, where the Hessian
 * jumps): inconclusive, with the reason; the native model of the same file is where this check means something.
 */
export function checkHessianVector(pot: SitePotential, opts: CheckOptions): CheckResult {
  const tol = HVP_TOLERANCE;
  if (hessianByFiniteDifferences(pot) && declaresKinks(pot)) return fdHessianOnKinks('hessian-vector', pot, tol, opts.seed);
  const nCases = opts.cases ?? 2;
  const w = new JudgedWorst();
  for (let c = 0; c < nCases; c++) {
    const seed = deriveSeed(opts.seed, c);
    const cfg = caseConfig(pot, opts, seed);
    const s = cfg.structure;
    const rng = new Rng(seed ^ 0x7654321);
    const v = new Float64Array(s.positions.length);
    for (let i = 0; i < v.length; i++) v[i] = rng.normal();
    const vm = maxAbs(v);
    for (let i = 0; i < v.length; i++) v[i] /= vm;
    // One list with a skin serves every point of the path (atoms move by at most ~1e-5 r0).
    const nl = skinList(pot, s, cfg.r0);
    const hv = hessianVector(pot, s, v, nl);
    const base = evaluate(pot, s);
    const noise = roundOffSample(pot, s, cfg.r0, base, seed);
    const scale = Math.max(maxAbs(hv), FLOOR.hessian);
    const x = new Float64Array(v.length);
    const moved = (t: number): Structure => {
      for (let i = 0; i < x.length; i++) x[i] = s.positions[i] + t * v[i];
      return { dim: s.dim, positions: x.slice(), cell: s.cell };
    };
    const measure = (f: number): PathMeasure => {
      const { half, kinks } = pathWithKinks(pot, s, { positions: v, cell: null }, f * S_HVP * cfg.r0, f * minHalf(noise.force, tol, scale));
      const gp = pot.evaluate(moved(half), nl).forces;
      const gm = pot.evaluate(moved(-half), nl).forces;
      const I = lineIntegral((t) => hessianVector(pot, moved(t), v, nl), -half, half, kinks, GL_ORDER);
      let worst = 0;
      let at = 0;
      let estAt = 0;
      for (let i = 0; i < v.length; i++) {
        // grad E = -F: grad(+) - grad(-) = gm - gp.
        const e = Math.abs(I.value[i] - (gm[i] - gp[i])) / (2 * half) / scale;
        if (Number.isNaN(e) || e > worst) {
          worst = e;
          at = i;
          estAt = (I.estimate[i] + NOISE_FACTOR * noise.force) / (2 * half) / scale;
          if (Number.isNaN(e)) break;
        }
      }
      return {
        err: worst,
        est: estAt,
        detail: {
          ...caseDetail(cfg, seed),
          atom: Math.floor(at / s.dim),
          component: at % s.dim,
          hessianVector: hv[at],
          meanHessianVectorAlongPath: I.value[at] / (2 * half),
          forceDifferenceOver2s: (gm[at] - gp[at]) / (2 * half),
          pathHalfLength: half,
          kinksOnPath: kinks.length,
          errorEstimate: estAt,
          scale,
        },
      };
    };
    const m = withRoundOffControl(measure, tol);
    w.update(m.err, m.est, tol, m.detail);
  }
  const d = w.detail as Record<string, unknown>;
  return judgedResult('hessian-vector', pot, w, tol, nCases, `(H v) on atom ${d.atom} component ${d.component} (seed ${d.seed})`);
}

/** The inconclusive result of a Hessian check on finite-difference Hessians of a potential with declared kinks. */
function fdHessianOnKinks(name: string, pot: SitePotential, tol: number, seed: number): CheckResult {
  const method = (pot.describe().hessianVector as { method?: string; step?: number } | undefined) ?? {};
  return {
    name,
    potential: pot.name,
    status: 'inconclusive',
    passed: false,
    worst: NaN,
    tolerance: tol,
    summary:
      `${name}: not decidable: the engine's Hessian is ${method.method ?? 'finite differences of forces'}` +
      `${method.step ? ` (step ${method.step})` : ''} and the potential declares kinks (a C1 table) within such a step, ` +
      'where the Hessian jumps; judge second derivatives on the native model of the same file',
    worstCase: { seed },
    cases: 0,
  };
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
  if (fdHessian && declaresKinks(pot)) return fdHessianOnKinks('force-constants', pot, tol, opts.seed);
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
