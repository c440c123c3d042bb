import type { LatticeName } from '../lattice/lattice.ts';
import type { SitePotential } from '../potentials/types.ts';

/**
 * Outcome of one verification check on one potential. `worst` is the largest error measure over all cases and
 * `worstCase` says where it occurred, including the seed that regenerates that case (run the check again with
 * `{ seed: worstCase.seed, cases: 1 }`). A check that cannot run on a potential (an external engine that reports no
 * site energies, a model without a high-precision path) is `skip`, never `pass`.
 */
export type CheckStatus = 'pass' | 'fail' | 'skip';

export interface CheckResult {
  readonly name: string;
  readonly potential: string;
  readonly status: CheckStatus;
  /** status === 'pass'. */
  readonly passed: boolean;
  /** Why the check was skipped, e.g. "skipped: engine reports no site energies". */
  readonly skipped?: string;
  readonly worst: number;
  readonly tolerance: number;
  readonly worstCase: { seed: number } & Record<string, unknown>;
  readonly cases: number;
}

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
