import { atomCount, type Structure } from '../lattice/structure.ts';
import { evaluate } from '../potentials/evaluate.ts';
import { buildNeighbourList } from '../lattice/neighbours.ts';
import { EAMPotential } from '../potentials/eam.ts';
import { eamGrids, knotSource, type KnotGrid } from '../potentials/knots.ts';
import type { SitePotential } from '../potentials/types.ts';
import { Rng } from '../util/rng.ts';
import { caseConfig, deriveSeed, latticeR0, rattledCluster } from './configs.ts';
import { roundOffSample } from './roundoff.ts';
import { skipResult, type CheckOptions, type CheckResult } from './types.ts';

/**
 * Regularity: the order of continuity a potential has where it is least smooth, reported with the jump sizes, apart
 * from the derivative checks (which ask whether forces are the derivatives of this energy, smooth or not).
 *
 * What the theory needs (THEORY.md section 1): a smooth site energy. Forces need E in C1; Newton's method, the
 * stability of the equilibrium and the P2 linear-response remainder use second derivatives, so a potential that is
 * C1 but not C2 (its Hessian jumps) is usable, but P1/P2 rates may be affected where configurations cross the jump.
 * Hence the verdicts: E or F discontinuous -> fail (the forces are not the derivative of the energy across the jump);
 * C1 only -> finding, with the jump; C2 or better (no jump of E, F or H above the measurement's resolution) -> pass.
 */

/** Orders of continuity, by the first derivative that jumps: 'C-1' means the energy itself jumps. */
export type Continuity = 'C-1' | 'C0' | 'C1' | '>=C2';

const THEORY_NEEDS = 'the theory assumes a smooth site energy; Newton and the P2 remainder need second derivatives';

/** Significance a jump needs over its noise, and the floors (reduced units) below which a jump counts as zero. */
const JUMP_SIGNIFICANCE = 10;
const JUMP_FLOOR = { energy: 1e-12, force: 1e-10, hessian: 1e-8 } as const;
/**
 * Jumps of E or F at rc above these fail (reduced units: 1e-10 is the old residual tolerance for the energy; a force
 * jump of 1e-6 is 1e-4 of the force floor). Smaller ones are reported as findings: a table that stops one knot short
 * of its cutoff (LAMMPS clamps it there) leaves E and F jumps of ~1e-12 and ~1e-8 that no relaxation sees.
 */
const FAIL_FLOOR = { energy: 1e-10, force: 1e-6 } as const;

/**
 * Smoothness at the cutoff: an atom (the mover) crosses the cutoff sphere of the centre atom of a compact rattled
 * cluster, moving along the radial direction u; every other pair of the mover stays 0.05 r0 clear of rc, so only the
 * centre pair crosses. With g(r) = E(mover at distance r), g' = -F_mover . u is sampled at rc +- k delta (k = 1, 2,
 * 3; delta = 1e-6 r0) and a quadratic on each side extrapolates g'(rc+-) and g''(rc+-); E(rc+-) comes from the inner
 * samples and the extrapolated slope (trapezoid). The jumps
 *   J0 = E(rc+) - E(rc-),  J1 = g'(rc+) - g'(rc-),  J2 = g''(rc+) - g''(rc-)
 * are significant when above 10x their round-off (propagated from a permutation sample, roundOffSample) and above the
 * floors JUMP_FLOOR; the first significant one gives the order (J0: C-1, J1: C0, J2: C1, none: >=C2). Needs forces
 * only, so engines are measured the same way. `worst` is max(J0/floor0, J1/floor1) (1 = tolerance): fails only when
 * the energy or the forces jump; a Hessian jump is a finding.
 */
export function checkCutoffSmoothness(pot: SitePotential, opts: CheckOptions): CheckResult {
  const nCases = opts.cases ?? 2;
  const rc = pot.cutoff;
  let worstRank = -1;
  let worst: CheckResult | null = null;
  const rankOf: Record<Continuity, number> = { '>=C2': 0, C1: 1, C0: 2, 'C-1': 3 };
  for (let c = 0; c < nCases; c++) {
    const seed = deriveSeed(opts.seed, c);
    const lattice = opts.lattice ?? 'triangular';
    const r0 = latticeR0(pot, opts);
    const cl = rattledCluster(lattice, r0, 1.05 * r0, seed, opts.rattle ?? 0.04);
    const d = cl.dim;
    const n = atomCount(cl);
    const rng = new Rng(seed ^ 0x1f83d9ab);
    const delta = 1e-6 * r0;
    let u: Float64Array | null = null;
    for (let attempt = 0; attempt < 200 && !u; attempt++) {
      const q = new Float64Array(d);
      for (let a = 0; a < d; a++) q[a] = rng.normal();
      const qn = Math.hypot(...q);
      for (let a = 0; a < d; a++) q[a] /= qn;
      let ok = true;
      for (let k = 1; k < n && ok; k++) {
        let r2 = 0;
        for (let a = 0; a < d; a++) r2 += (cl.positions[a] + rc * q[a] - cl.positions[k * d + a]) ** 2;
        const r = Math.sqrt(r2);
        if (r < 0.8 * r0 || Math.abs(r - rc) < 0.05 * r0) ok = false;
      }
      if (ok) u = q;
    }
    if (!u) {
      return {
        name: 'cutoff-smoothness',
        potential: pot.name,
        status: 'fail',
        passed: false,
        worst: NaN,
        tolerance: 1,
        summary: 'cutoff-smoothness: no direction found in which only one pair crosses the cutoff (200 tries)',
        worstCase: { seed },
        cases: c,
      };
    }
    const dir = u;
    const make = (r: number): Structure => {
      const pos = new Float64Array((n + 1) * d);
      pos.set(cl.positions);
      for (let a = 0; a < d; a++) pos[n * d + a] = cl.positions[a] + r * dir[a];
      return { dim: d, positions: pos, cell: null };
    };
    const sample = (r: number) => {
      const e = evaluate(pot, make(r));
      let gp = 0;
      for (let a = 0; a < d; a++) gp -= e.forces[n * d + a] * dir[a];
      return { E: e.energy, gp };
    };
    const side = (sigma: number) => {
      const s1 = sample(rc + sigma * delta);
      const s2 = sample(rc + sigma * 2 * delta);
      const s3 = sample(rc + sigma * 3 * delta);
      const a = 3 * s1.gp - 3 * s2.gp + s3.gp; // g'(rc +- 0)
      const b = (sigma * (-2.5 * s1.gp + 4 * s2.gp - 1.5 * s3.gp)) / delta; // g''(rc +- 0)
      const E = s1.E - sigma * delta * 0.5 * (a + s1.gp); // E(rc +- 0)
      return { a, b, E };
    };
    const lo = side(-1);
    const hi = side(1);
    const inner = make(rc - 0.1 * r0);
    const noise = roundOffSample(pot, inner, r0, evaluate(pot, inner), seed);
    const J = [hi.E - lo.E, hi.a - lo.a, hi.b - lo.b];
    const predicted = predictedEamJumps(pot, make(rc), n, rc);
    const N = [2 * noise.energy + 8 * delta * noise.force, 14 * noise.force, (16 * noise.force) / delta];
    const floors = [JUMP_FLOOR.energy, JUMP_FLOOR.force, JUMP_FLOOR.hessian];
    const resolution = N.map((x, k) => Math.max(JUMP_SIGNIFICANCE * x, floors[k]));
    const sig = J.map((j, k) => !(Math.abs(j) <= resolution[k]));
    const order: Continuity = sig[0] ? 'C-1' : sig[1] ? 'C0' : sig[2] ? 'C1' : '>=C2';
    const failAt = [Math.max(resolution[0], FAIL_FLOOR.energy), Math.max(resolution[1], FAIL_FLOOR.force)];
    const worstValue = Math.max(Math.abs(J[0]) / failAt[0], Math.abs(J[1]) / failAt[1]);
    const detail = {
      seed,
      boundary: 'open',
      cutoff: rc,
      delta,
      atoms: n + 1,
      observedOrder: order,
      energyJump: J[0],
      forceJump: J[1],
      hessianJump: J[2],
      resolution: { energy: resolution[0], force: resolution[1], hessian: resolution[2] },
      failsAbove: { energy: failAt[0], force: failAt[1] },
      ...(predicted ? { predictedFromTables: predicted } : {}),
      theoryNeeds: THEORY_NEEDS,
    };
    const status = !(worstValue <= 1) ? 'fail' : order === '>=C2' ? 'pass' : 'finding';
    const jumps = `energy jump ${J[0].toExponential(2)}, force jump ${J[1].toExponential(2)}, second-derivative jump ${J[2].toExponential(2)}`;
    const summary =
      status === 'fail'
        ? `cutoff-smoothness: ${order === 'C-1' ? 'the energy' : 'the force'} jumps when a neighbour crosses rc = ${rc} (${jumps}; fails above ${failAt[0].toExponential(0)} / ${failAt[1].toExponential(0)}): forces are not the derivative of the energy there`
        : order === 'C1'
          ? `cutoff-smoothness: C1 only at rc = ${rc}: second-derivative jump ${J[2].toExponential(2)} (resolution ${resolution[2].toExponential(1)}); ${THEORY_NEEDS}: P1/P2 may be affected`
          : order !== '>=C2'
            ? `cutoff-smoothness: ${order} at rc = ${rc}, with jumps too small to fail (${jumps}; fail above ${failAt[0].toExponential(0)} / ${failAt[1].toExponential(0)}); ${THEORY_NEEDS}: P1/P2 may be affected`
            : undefined;
    const rank = Number.isNaN(worstValue) ? 5 : status === 'fail' ? 4 : rankOf[order];
    if (rank > worstRank || (rank === worstRank && worst && Math.abs(J[Math.min(rank, 2)]) > Math.abs(worst.worst))) {
      worstRank = rank;
      worst = {
        name: 'cutoff-smoothness',
        potential: pot.name,
        status,
        passed: status === 'pass',
        worst: worstValue,
        estimate: Math.max(N[0] / failAt[0], N[1] / failAt[1]),
        ...(summary ? { summary } : {}),
        tolerance: 1,
        worstCase: detail,
        cases: nCases,
      };
    }
  }
  return worst!;
}

/**
 * Control for an EAM model (or an engine with its native twin): the jumps the 1D functions predict when the pair
 * (centre 0, mover n) leaves the cutoff, from their values just below rc and the two sites' densities:
 *   J0 = -(phi(rc-) + F(rho_0) - F(rho_0 - psi(rc-)) + F(rho_n) - F(rho_n - psi(rc-))),
 *   J1 = -(phi'(rc-) + (F'(rho_0) + F'(rho_n)) psi'(rc-)).
 * Agreement with the measured jumps shows they are the tables' truncation, not a kernel or engine bug.
 */
function predictedEamJumps(pot: SitePotential, s: Structure, n: number, rc: number): { energyJump: number; forceJump: number } | null {
  const src = knotSource(pot);
  if (!(src instanceof EAMPotential) || Math.abs(src.cutoff - rc) > 1e-12 * rc) return null;
  const out = new Float64Array(3);
  const rm = rc * (1 - 1e-13);
  src.pair.eval(rm, out);
  const [phi, dphi] = [out[0], out[1]];
  if (!src.density || !src.embedding) return { energyJump: -phi, forceJump: -dphi };
  src.density.eval(rm, out);
  const [psi, dpsi] = [out[0], out[1]];
  const d = s.dim;
  const rhoOf = (i: number): number => {
    let rho = 0;
    const x = s.positions;
    for (let j = 0; j <= n; j++) {
      if (j === i) continue;
      let r2 = 0;
      for (let a = 0; a < d; a++) r2 += (x[j * d + a] - x[i * d + a]) ** 2;
      const r = Math.sqrt(r2);
      if ((i === 0 && j === n) || (i === n && j === 0)) continue; // the crossing pair: added as psi(rc-) below
      if (r < src.density!.cutoff) {
        src.density!.eval(r, out);
        rho += out[0];
      }
    }
    return rho + psi;
  };
  const F = (rho: number, site: number) => {
    src.embedding!.eval(rho, out, site);
    return [out[0], out[1]];
  };
  let e = phi;
  let f = dphi;
  for (const i of [0, n]) {
    const rho = rhoOf(i);
    const [Fi, dFi] = F(rho, i);
    const [F0] = F(rho - psi, i);
    e += Fi - F0;
    f += dFi * dpsi;
  }
  return { energyJump: -e, forceJump: -f };
}

/** Jumps of a C1 spline's second derivative at its interior knots, and the largest |f''| (in x units). */
export function splineSecondDerivativeJumps(g: KnotGrid, from = -Infinity, to = Infinity): { maxJump: number; at: number; maxSecond: number } {
  const c = g.spline.coef;
  const n = g.count;
  const rd2 = 1 / (g.step * g.step);
  let maxJump = 0;
  let at = NaN;
  let maxSecond = 0;
  // Interval m (1-based) holds value cubic c6 + c5 p + c4 p^2 + c3 p^3: f'' = (2 c4 + 6 c3 p) / step^2.
  for (let m = 2; m <= n - 1; m++) {
    const x = (m - 1) * g.step;
    if (x < from || x > to) continue;
    const left = (2 * c[7 * (m - 1) + 4] + 6 * c[7 * (m - 1) + 3]) * rd2;
    const right = 2 * c[7 * m + 4] * rd2;
    maxSecond = Math.max(maxSecond, Math.abs(left), Math.abs(right));
    const j = Math.abs(right - left);
    if (j > maxJump) {
      maxJump = j;
      at = x;
    }
  }
  return { maxJump, at, maxSecond };
}

/**
 * Regularity at a tabulated potential's knots: its tables (LAMMPS splines: C1 by construction) are read for the jumps
 * of their second derivatives where configurations go: pair distances in [0.7 r0, rc], site densities within 50% of
 * those of rattled lattice cells. Each table reports its largest jump, where, and relative to its largest |f''| there
 * (the kinks of a published spline potential stand out), plus its value and slope just below its cutoff (where LAMMPS
 * clamps a table that stops short of it). Radial jumps are in the splined quantity (r phi for the pair, rho for the
 * density); the embedding's in F(rho). A finding whenever a jump is above 1e-12 relative (a C1 table), pass when
 * none is; skipped when the potential declares no tables.
 */
export function checkKnotRegularity(pot: SitePotential, opts: CheckOptions): CheckResult {
  const g = eamGrids(pot);
  const src = knotSource(pot);
  if (!g || !(g.pair || g.density || g.embedding) || !(src instanceof EAMPotential)) {
    return skipResult('knot-regularity', pot, 'potential declares no tabulated functions', opts.seed);
  }
  const r0 = latticeR0(pot, opts);
  const rc = src.cutoff;
  // Site densities of a rattled periodic cell of the lattice.
  let rhoLo = Infinity;
  let rhoHi = -Infinity;
  if (src.density) {
    const cfg = caseConfig(src, { ...opts, boundary: 'periodic' }, opts.seed);
    const s = cfg.structure;
    const nl = buildNeighbourList(s, rc);
    const out = new Float64Array(3);
    for (let i = 0; i < nl.n; i++) {
      let rho = 0;
      for (let k = nl.offsets[i]; k < nl.offsets[i + 1]; k++) {
        const j = nl.index[k];
        let r2 = 0;
        for (let a = 0; a < s.dim; a++) r2 += (s.positions[j * s.dim + a] + nl.shift[k * s.dim + a] - s.positions[i * s.dim + a]) ** 2;
        src.density.eval(Math.sqrt(r2), out);
        rho += out[0];
      }
      rhoLo = Math.min(rhoLo, rho);
      rhoHi = Math.max(rhoHi, rho);
    }
  }
  const parts: Record<string, unknown> = {};
  let worstRel = 0;
  let worstName = '';
  const lines: string[] = [];
  const out = new Float64Array(3);
  for (const [name, grid, unit, fn] of [
    ['pair r*phi(r)', g.pair, 'r', src.pair],
    ['density rho(r)', g.density, 'r', src.density],
    ['embedding F(rho)', g.embedding, 'rho', null],
  ] as const) {
    if (!grid) continue;
    const [from, to] = unit === 'r' ? [0.7 * r0, rc] : [0.5 * rhoLo, 1.5 * rhoHi];
    const j = splineSecondDerivativeJumps(grid, from, to);
    const rel = j.maxSecond > 0 ? j.maxJump / j.maxSecond : 0;
    let atEnd: Record<string, number> | undefined;
    if (fn && Number.isFinite(grid.end)) {
      fn.eval(grid.end * (1 - 1e-12), out);
      atEnd = { r: grid.end, value: out[0], slope: out[1], lastKnot: (grid.count - 1) * grid.step };
    }
    parts[name] = {
      knots: grid.count,
      spacing: grid.step,
      window: [from, to],
      maxSecondDerivativeJump: j.maxJump,
      at: j.at,
      relativeToMaxSecond: rel,
      maxSecondDerivative: j.maxSecond,
      ...(atEnd ? { justBelowCutoff: atEnd } : {}),
    };
    lines.push(
      `${name} f'' jumps up to ${j.maxJump.toExponential(2)} (${rel.toExponential(1)} of max |f''|) at ${unit} = ${j.at.toPrecision(5)}` +
        (atEnd ? `, value ${atEnd.value.toExponential(1)} slope ${atEnd.slope.toExponential(1)} just below rc` : ''),
    );
    if (rel > worstRel) {
      worstRel = rel;
      worstName = name;
    }
  }
  const c1 = worstRel > 1e-12;
  return {
    name: 'knot-regularity',
    potential: pot.name,
    status: c1 ? 'finding' : 'pass',
    passed: !c1,
    worst: worstRel,
    tolerance: 1e-12,
    ...(c1 ? { summary: `knot-regularity: C1 only at the table knots (worst: ${worstName}): ${lines.join('; ')}; ${THEORY_NEEDS}: P1/P2 may be affected` } : {}),
    worstCase: { seed: opts.seed, observedOrder: c1 ? 'C1' : '>=C2', tables: parts, theoryNeeds: THEORY_NEEDS },
    cases: 1,
  };
}
