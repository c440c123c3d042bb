import { buildNeighbourList, type NeighbourList } from '../lattice/neighbours.ts';
import { atomCount, type Structure } from '../lattice/structure.ts';
import { evaluate } from '../potentials/evaluate.ts';
import type { SitePotential } from '../potentials/types.ts';
import { HP, type HPDecimal } from '../util/decimal.ts';
import { Rng } from '../util/rng.ts';
import { neumaierSum } from '../util/sum.ts';
import { caseConfig, cachedEquilibrium, deriveSeed, latticeR0, rattledCluster } from './configs.ts';
import { makeLattice } from '../lattice/lattice.ts';
import { FLOOR, makeResult, NO_SITE_ENERGIES, skipResult, Worst, type CheckOptions, type CheckResult } from './types.ts';

/** A potential with a high-precision energy path (EAMPotential.energyDecimal). */
interface HasDecimalEnergy {
  energyDecimal(s: Structure, nl: NeighbourList): HPDecimal;
}

function hasDecimalEnergy(p: SitePotential): p is SitePotential & HasDecimalEnergy {
  return typeof (p as Partial<HasDecimalEnergy>).energyDecimal === 'function';
}

/**
 * The float64 kernel against the decimal.js (40 digits) evaluation of the same model on the same configuration:
 * |E64 - E_hp| / max(|E_hp|, N FLOOR.energyPerAtom) <= 1e-12 (issue 2). Catches kernel bugs that finite differences
 * cannot (a wrong constant in an energy that is consistent with its own derivatives) and loss of precision.
 */
export function checkHighPrecision(pot: SitePotential, opts: CheckOptions): CheckResult {
  const tol = 1e-12;
  if (!hasDecimalEnergy(pot)) return skipResult('high-precision', pot, 'potential has no high-precision evaluation', opts.seed);
  const nCases = opts.cases ?? 2;
  const w = new Worst();
  for (let c = 0; c < nCases; c++) {
    const seed = deriveSeed(opts.seed, c);
    // decimal.js costs ~10 us per operation: periodic cells in 2D, compact open clusters in 3D keep a case ~1 s.
    const lat = opts.lattice ?? 'triangular';
    const dim = makeLattice(lat, 1).dim;
    const cfg =
      dim === 3
        ? { structure: rattledCluster(lat, latticeR0(pot, opts), 1.5 * latticeR0(pot, opts), seed, opts.rattle ?? 0.04), boundary: 'open' }
        : caseConfig(pot, opts, seed);
    const s = cfg.structure;
    const n = atomCount(s);
    const e64 = evaluate(pot, s).energy;
    const ehp = pot.energyDecimal(s, buildNeighbourList(s, pot.cutoff));
    const scale = Math.max(Math.abs(ehp.toNumber()), n * FLOOR.energyPerAtom);
    const e = new HP(e64).minus(ehp).abs().toNumber() / scale;
    w.update(e, { seed, boundary: cfg.boundary, atoms: n, energy: e64, energyDecimal: ehp.toString() });
  }
  return makeResult('high-precision', pot, w.value, tol, w.detail, nCases);
}

/** Exact decimal value of a float64 (decimal.js parses numbers through their shortest decimal string, which is not exact). */
export function exactDecimal(x: number): HPDecimal {
  if (x === 0 || !Number.isFinite(x)) return new HP(x);
  const buf = new DataView(new ArrayBuffer(8));
  buf.setFloat64(0, x);
  const hi = buf.getUint32(0);
  const lo = buf.getUint32(4);
  const sign = hi >>> 31 ? -1 : 1;
  const bexp = (hi >>> 20) & 0x7ff;
  let mant = BigInt(hi & 0xfffff) * 2n ** 32n + BigInt(lo);
  let e: number;
  if (bexp === 0) e = -1074;
  else {
    mant += 2n ** 52n;
    e = bexp - 1075;
  }
  let p = pow2.get(e);
  if (!p) pow2.set(e, (p = new HP(2).pow(e)));
  return new HP(mant.toString()).mul(p).mul(sign);
}
const pow2 = new Map<number, HPDecimal>();

/**
 * Compensated (Neumaier) summation of formation-energy-like sums, checked against decimal.js: the site energies of a
 * rattled periodic cell tiled to ~2e4 terms, each minus e0 in float64 and summed, and the raw sum of site energies
 * with -N e0 appended (a sum of large, nearly cancelling terms). Neumaier's bound is
 * |s - S| <= eps |S| + O(n eps^2) sum |x|; the second term is below 1e-20 |S| here, so the tolerance is 4 eps relative
 * (the final s + c rounding included). The naive float sum's error is reported for comparison.
 */
export function checkCompensatedSum(pot: SitePotential, opts: CheckOptions): CheckResult {
  const tol = 4 * Number.EPSILON;
  const nCases = opts.cases ?? 2;
  const w = new Worst();
  const lattice = opts.lattice ?? 'triangular';
  for (let c = 0; c < nCases; c++) {
    const seed = deriveSeed(opts.seed, c);
    const cfg = caseConfig(pot, { ...opts, boundary: 'periodic' }, seed);
    const src = evaluate(pot, cfg.structure).siteEnergies;
    // Without site energies there is nothing of this potential to sum: a pass on synthetic values would say nothing
    // about it (an engine's own summation is what extensivity bounds). Skipped before any equilibrium solve.
    if (!src) return skipResult('compensated-sum', pot, NO_SITE_ENERGIES, opts.seed);
    const e0 = cachedEquilibrium(pot, lattice, opts.r0).e0;
    const rng = new Rng(seed ^ 0x51ed270b);
    const N = 20000;
    const vals = new Float64Array(N + 1);
    for (let i = 0; i < N; i++) vals[i] = src[Math.floor(rng.uniform() * src.length)] * (1 + 1e-6 * rng.normal());
    vals[N] = -N * e0;
    const diffs = new Float64Array(N);
    for (let i = 0; i < N; i++) diffs[i] = vals[i] - e0;
    for (const [kind, xs] of [['sum(V - e0)', diffs], ['sum(V) - N e0', vals]] as const) {
      let exact = new HP(0);
      for (let i = 0; i < xs.length; i++) exact = exact.plus(exactDecimal(xs[i]));
      let naive = 0;
      for (let i = 0; i < xs.length; i++) naive += xs[i];
      const got = neumaierSum(xs);
      const S = exact.toNumber();
      const err = exactDecimal(got).minus(exact).abs().toNumber() / Math.abs(S);
      const naiveErr = exactDecimal(naive).minus(exact).abs().toNumber() / Math.abs(S);
      w.update(err, { seed, kind, terms: xs.length, sum: S, compensated: got, naiveRelativeError: naiveErr });
    }
  }
  return makeResult('compensated-sum', pot, w.value, tol, w.detail, nCases);
}
