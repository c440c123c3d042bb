import type { LatticeName } from '../lattice/lattice.ts';
import type { SitePotential } from '../potentials/types.ts';

/**
 * Outcome of one verification check on one potential. `worst` is the largest error measure over all cases and
 * `worstCase` says where it occurred, including the seed that regenerates that case (run the check again with
 * `{ seed: worstCase.seed, cases: 1 }`). A check that cannot run on a potential (an external engine that reports no
 * site energies, a model without a high-precision path) is `skip`, never `pass`.
 */
export type CheckStatus = 'pass' | 'fail' | 'skip' | 'inconclusive' | 'finding';
/*
 * 'inconclusive': the measurement's own error estimate is too large to call the result either way (a FAIL must be
 * sure). 'finding': a property of the potential reported with numbers, not a defect of its derivatives (e.g. "C1
 * only at the cutoff"); it does not make `check` exit non-zero.
 */

export interface CheckResult {
  readonly name: string;
  readonly potential: string;
  readonly status: CheckStatus;
  /** status === 'pass'. */
  readonly passed: boolean;
  /** Why the check was skipped, e.g. "skipped: engine reports no site energies". */
  readonly skipped?: string;
  readonly worst: number;
  /**
   * Error estimate of the measurement behind `worst`, in the same units (quadrature and round-off of the line
   * integrals): a FAIL is only called when worst exceeds both the tolerance and 3 x this estimate.
   */
  readonly estimate?: number;
  /** One line saying what failed (or was found) where, and how sure it is. */
  readonly summary?: string;
  readonly tolerance: number;
  readonly worstCase: { seed: number } & Record<string, unknown>;
  readonly cases: number;
}

/** Force components the forces check line-integrates per configuration unless told otherwise. */
export const DEFAULT_FORCE_COMPONENTS = 48;

export interface CheckOptions {
  /** Master seed; case k uses deriveSeed(seed, k) (case 0 uses the seed itself, so a worst case replays with cases = 1). */
  readonly seed: number;
  /** Lattice the configurations are built on (default: triangular). */
  readonly lattice?: LatticeName;
  /** Nearest-neighbour distance of the lattice; default the potential's stress-free lattice (a 1D solve, cached). */
  readonly r0?: number;
  /** Random configurations per check (default 2). */
  readonly cases?: number;
  /** Force a boundary type; by default each case's seed chooses periodic or open. */
  readonly boundary?: 'periodic' | 'open';
  /** Rattle amplitude in units of r0 (default 0.04). */
  readonly rattle?: number;
  /** Largest number of force components finite-differenced per configuration (default 48; 2D cells have fewer). */
  readonly components?: number;
}

/** A check runs on ANY SitePotential (reference model, MLIP, external engine). */
export type CheckFn = (pot: SitePotential, opts: CheckOptions) => CheckResult;

/**
 * Floors of the relative error measures, in reduced units (energy ~ bond energy, length ~ r0): below these magnitudes a
 * quantity counts as small, and its error is measured against the floor instead of itself, so a relative test stays
 * meaningful at equilibrium (zero forces) without becoming an absolute test on large quantities.
 */
export const FLOOR = {
  /** Energy per atom. */
  energyPerAtom: 1e-2,
  /** Force component. */
  force: 1e-2,
  /** Virial component per atom. */
  virialPerAtom: 1e-2,
  /** Hessian-vector component. */
  hessian: 1e-2,
} as const;

/**
 * Whether a potential's Hessian-vector products are finite differences of its forces (external engines: the i-PI
 * protocol carries no second derivatives), as its describe() declares. Such products are accurate to the
 * hessian-vector check's tolerance, not to round-off, and checks built on them are judged accordingly.
 */
export function hessianByFiniteDifferences(pot: SitePotential): boolean {
  const h = pot.describe().hessianVector as { method?: unknown } | undefined;
  return typeof h?.method === 'string' && /finite difference/i.test(h.method);
}

/**
 * Whether a potential's total energy may be a plain (uncompensated) float64 sum, as its describe() declares with
 * `energySummation: 'plain'` (external engines: we cannot know how they sum). Its round-off then grows with the number
 * of terms, and exactness checks on totals are judged against that bound rather than against a compensated sum's.
 */
export function plainEnergySummation(pot: SitePotential): boolean {
  return pot.describe().energySummation === 'plain';
}

/** Tolerance of the hessian-vector check (relative, against Richardson-extrapolated differences of forces). */
export const HVP_TOLERANCE = 1e-7;

export function makeResult(
  name: string,
  pot: SitePotential,
  worst: number,
  tolerance: number,
  worstCase: { seed: number } & Record<string, unknown>,
  cases: number,
): CheckResult {
  // NaN must fail: compare with `<=` and require a finite worst.
  const passed = Number.isFinite(worst) && worst <= tolerance;
  return { name, potential: pot.name, status: passed ? 'pass' : 'fail', passed, worst, tolerance, worstCase, cases };
}

/** Skip reason of the checks that sum or compare site energies, on an engine that reports totals only. */
export const NO_SITE_ENERGIES = 'engine reports no site energies';

export function skipResult(name: string, pot: SitePotential, reason: string, seed: number): CheckResult {
  return {
    name,
    potential: pot.name,
    status: 'skip',
    passed: false,
    skipped: `skipped: ${reason}`,
    worst: NaN,
    tolerance: NaN,
    worstCase: { seed },
    cases: 0,
  };
}

/** Significance a discrepancy needs over its error estimate to be called a failure. */
export const SIGNIFICANCE = 3;

/**
 * Verdict on one measurement: pass when both the discrepancy and its error estimate are within the tolerance; fail
 * when the discrepancy exceeds the tolerance and SIGNIFICANCE x its estimate; otherwise inconclusive.
 */
export function judge(discrepancy: number, estimate: number, tol: number): 'pass' | 'fail' | 'inconclusive' {
  if (!Number.isFinite(discrepancy) || Number.isNaN(estimate)) return 'fail';
  if (discrepancy <= tol && estimate <= tol) return 'pass';
  if (discrepancy > tol && discrepancy > SIGNIFICANCE * estimate) return 'fail';
  return 'inconclusive';
}

const RANK = { pass: 0, inconclusive: 1, fail: 2 } as const;

/**
 * Worst measurement of a judged check: failures outrank inconclusive results, which outrank passes; within a rank the
 * largest discrepancy wins. NaN fails and sticks.
 */
export class JudgedWorst {
  status: 'pass' | 'fail' | 'inconclusive' = 'pass';
  value = -Infinity;
  estimate = 0;
  detail: { seed: number } & Record<string, unknown> = { seed: 0 };
  update(v: number, est: number, tol: number, detail: { seed: number } & Record<string, unknown>): void {
    const st = judge(v, est, tol);
    if (Number.isNaN(this.value)) return;
    if (Number.isNaN(v) || RANK[st] > RANK[this.status] || (RANK[st] === RANK[this.status] && v > this.value)) {
      this.status = st;
      this.value = v;
      this.estimate = est;
      this.detail = detail;
    }
  }
}

/** Result of a judged check; `what` names the measured quantity at the worst case for the summary line. */
export function judgedResult(
  name: string,
  pot: SitePotential,
  w: JudgedWorst,
  tolerance: number,
  cases: number,
  what: string,
): CheckResult {
  const v = w.value;
  const e = w.estimate;
  const sig = e > 0 ? `${(v / e).toPrecision(2)}x its error estimate ${e.toExponential(1)}` : 'error estimate 0';
  const summary =
    w.status === 'fail'
      ? `${what}: discrepancy ${v.toExponential(2)} > tolerance ${tolerance.toExponential(0)}, ${sig}`
      : w.status === 'inconclusive'
        ? `${what}: discrepancy ${v.toExponential(2)} not resolved: error estimate ${e.toExponential(1)} (tolerance ${tolerance.toExponential(0)})`
        : undefined;
  return {
    name,
    potential: pot.name,
    status: w.status,
    passed: w.status === 'pass',
    worst: v,
    estimate: e,
    ...(summary ? { summary } : {}),
    tolerance,
    worstCase: w.detail,
    cases,
  };
}

/** Tracks the worst error over cases; a NaN error is the worst possible and sticks (it must surface as a failure). */
export class Worst {
  value = -Infinity;
  detail: { seed: number } & Record<string, unknown> = { seed: 0 };
  update(v: number, detail: { seed: number } & Record<string, unknown>): void {
    if (Number.isNaN(this.value)) return;
    if (Number.isNaN(v) || v > this.value) {
      this.value = v;
      this.detail = detail;
    }
  }
}
