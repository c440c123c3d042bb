import { periodicDomain } from '../lattice/domain.ts';
import { buildNeighbourList } from '../lattice/neighbours.ts';
import { basisCount, makeLattice, sitePosition, type LatticeName } from '../lattice/lattice.ts';
import { perpendicularWidths, type Dim, type Structure } from '../lattice/structure.ts';
import { equilibriumLattice, type PerfectLattice } from '../potentials/equilibrium.ts';
import type { SitePotential } from '../potentials/types.ts';
import { Rng } from '../util/rng.ts';
import type { CheckOptions } from './types.ts';

/**
 * Seed of case k of a check: case 0 is the master seed itself, so the worst case of a run replays with
 * `{ seed: worstCase.seed, cases: 1 }`; later cases are hashed (splitmix-style) so nearby master seeds do not share cases.
 */
export function deriveSeed(seed: number, k: number): number {
  if (k === 0) return seed >>> 0;
  let z = (seed + Math.imul(k, 0x9e3779b9)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

const eqCache = new WeakMap<SitePotential, Map<string, PerfectLattice>>();

/**
 * The stress-free lattice of a potential, solved once per (potential object, lattice) and cached. `guess` (a nearby
 * r0, e.g. the checks' --r0) only starts the bracket: the root is the same, but a guess far off costs bracket steps
 * in cells sized for 0.7 x guess (for Ni SNAP from guess 1: 2916-atom cells, 84 s; from 2.49: 256 atoms).
 */
export function cachedEquilibrium(pot: SitePotential, name: LatticeName, guess?: number): PerfectLattice {
  let m = eqCache.get(pot);
  if (!m) eqCache.set(pot, (m = new Map()));
  let e = m.get(name);
  if (!e) m.set(name, (e = equilibriumLattice(pot, name, guess)));
  return e;
}

export function latticeR0(pot: SitePotential, opts: CheckOptions): number {
  return opts.r0 ?? cachedEquilibrium(pot, opts.lattice ?? 'triangular').lattice.r0;
}

/** A generated configuration with what is needed to reproduce and describe it. */
export interface Config {
  readonly structure: Structure;
  readonly boundary: 'periodic' | 'open';
  readonly seed: number;
  readonly lattice: LatticeName;
  readonly r0: number;
  /** Smallest |r_ij - rc| over all pairs after clearCutoff, and how many pair distances it moved (CUTOFF_CLEARANCE). */
  readonly cutoffClearance: number;
  readonly nudges: number;
}

/** y = (I + eps) x applied to the rows (atoms or cell vectors) of a flat row-major array. */
export function applyStrain(x: Float64Array, eps: ArrayLike<number>, dim: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i += dim)
    for (let a = 0; a < dim; a++) {
      let t = x[i + a];
      for (let b = 0; b < dim; b++) t += eps[a * dim + b] * x[i + b];
      out[i + a] = t;
    }
  return out;
}

function randomSymmetric(rng: Rng, dim: number, amp: number): Float64Array {
  const e = new Float64Array(dim * dim);
  for (let a = 0; a < dim; a++)
    for (let b = a; b < dim; b++) {
      const v = amp * (2 * rng.uniform() - 1);
      e[a * dim + b] = v;
      e[b * dim + a] = v;
    }
  return e;
}

function rattle(x: Float64Array, rng: Rng, amp: number): void {
  for (let i = 0; i < x.length; i++) x[i] += amp * rng.normal();
}

/**
 * A rattled, homogeneously strained periodic cell: whole conventional cells of the lattice, enough repetitions that the
 * strained cell is wider than 2 cutoffs with a 2% margin (so strain finite differences stay legal). The strain makes
 * the virial non-zero, the rattle makes forces non-zero and breaks every symmetry of the lattice.
 */
export function rattledPeriodic(
  pot: SitePotential,
  name: LatticeName,
  r0: number,
  seed: number,
  rattleAmp = 0.04,
  strainAmp = 0.02,
): Structure {
  const rng = new Rng(seed);
  const l = makeLattice(name, r0);
  const d = l.dim;
  const eps = randomSymmetric(rng, d, strainAmp);
  const w0 = perpendicularWidths(l.cell, d);
  const w1 = perpendicularWidths(applyStrain(l.cell, eps, d), d);
  const reps = w0.map((w, k) => Math.ceil((2 * pot.cutoff * 1.02) / Math.min(w, w1[k])));
  const dom = periodicDomain(l, 'none', 1, pot.cutoff, reps);
  const pos = applyStrain(dom.structure.positions, eps, d);
  rattle(pos, rng, rattleAmp * r0);
  return { dim: d, positions: pos, cell: applyStrain(dom.structure.cell!, eps, d) };
}

/** A rattled, strained open cluster: the lattice sites within `radius` of the origin site. */
export function rattledCluster(
  name: LatticeName,
  r0: number,
  radius: number,
  seed: number,
  rattleAmp = 0.04,
  strainAmp = 0.02,
): Structure {
  const rng = new Rng(seed);
  const l = makeLattice(name, r0);
  const d = l.dim;
  const eps = randomSymmetric(rng, d, strainAmp);
  const nb = basisCount(l);
  const range = Math.ceil(radius / (0.5 * r0)) + 1;
  const pos: number[] = [];
  const m = new Array(d).fill(0);
  const x = new Float64Array(d);
  const visit = (k: number): void => {
    if (k === d) {
      for (let b = 0; b < nb; b++) {
        sitePosition(l, m, b, x);
        let r2 = 0;
        for (let a = 0; a < d; a++) r2 += x[a] * x[a];
        if (r2 <= radius * radius * (1 + 1e-9)) pos.push(...x);
      }
      return;
    }
    for (let i = -range; i <= range; i++) {
      m[k] = i;
      visit(k + 1);
    }
  };
  visit(0);
  const p = applyStrain(Float64Array.from(pos), eps, d);
  rattle(p, rng, rattleAmp * r0);
  return { dim: d, positions: p, cell: null };
}

/**
 * Pair distances are kept at least this far (relative to rc) from the cutoff. The finite-difference stencils of the
 * derivative checks move a pair distance by at most ~1e-3 max(r0, rc) (H_POS, H_STRAIN, 2 sqrt(d) H_HVP in
 * derivatives.ts); a potential that is only C1 at rc (SNAP's cosine switch: its Hessian jumps there) would otherwise
 * fail forces = -grad E for the stencil, not for its forces (measured on Ni SNAP: a pair 1.3e-4 A from rc gave 1.4e-7;
 * with 0.04 A clearance 4.6e-10). What happens at rc is the cutoff-smoothness check's job.
 */
export const CUTOFF_CLEARANCE = 2e-3;

/** Smallest |r_ij - R| over the radii R and the pairs of s within `reach` (Infinity when none). */
function clearanceOf(s: Structure, radii: readonly number[], reach: number): number {
  let near = Infinity;
  forEachPair(s, reach, (_i, _j, r) => {
    for (const R of radii) near = Math.min(near, Math.abs(r - R));
  });
  return near;
}

/** Smallest |r_ij - rc| over the pairs of s within rc (1 + 2 CUTOFF_CLEARANCE) (Infinity when none). */
export function cutoffClearance(s: Structure, rc: number): number {
  return clearanceOf(s, [rc], rc * (1 + 2 * CUTOFF_CLEARANCE));
}

/** Calls f(i, j, r, u) for every pair i < j (each periodic image separately), u the unit vector from i to j. */
function forEachPair(s: Structure, cutoff: number, f: (i: number, j: number, r: number, u: Float64Array) => void): void {
  const nl = buildNeighbourList(s, cutoff);
  const x = s.positions;
  const d = s.dim;
  const u = new Float64Array(d);
  for (let i = 0; i < nl.n; i++)
    for (let k = nl.offsets[i]; k < nl.offsets[i + 1]; k++) {
      const j = nl.index[k];
      if (j <= i) continue; // each pair once; a self-image's length cannot be changed by moving atoms
      let r2 = 0;
      for (let a = 0; a < d; a++) {
        u[a] = x[j * d + a] + nl.shift[k * d + a] - x[i * d + a];
        r2 += u[a] * u[a];
      }
      const r = Math.sqrt(r2);
      for (let a = 0; a < d; a++) u[a] /= r;
      f(i, j, r, u);
    }
}

/**
 * Moves the two atoms of every pair closer than `band` to one of `radii` (e.g. a cutoff, an envelope's inner radius:
 * where a potential is least smooth) apart or together along their bond until it is 1.5 band away, on the side it was
 * on; repeated until no pair is in a band (a few sweeps). Each move is at most 0.75 band per atom, far below a
 * rattle, so the configuration stays generic; deterministic, so a seeded case still replays. Returns the smallest
 * |r_ij - radius| reached and the number of moves.
 */
export function clearDistances(s: Structure, radii: readonly number[], band: number, maxSweeps = 20): { clearance: number; nudges: number } {
  const x = s.positions;
  const d = s.dim;
  const reach = Math.max(...radii) + 2 * band;
  const nearest = (r: number): number => radii.reduce((best, R) => (Math.abs(r - R) < Math.abs(r - best) ? R : best), radii[0]);
  let nudges = 0;
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    const moves: Array<[number, number, number, Float64Array]> = [];
    forEachPair(s, reach, (i, j, r, u) => {
      const R = nearest(r);
      if (Math.abs(r - R) >= band) return;
      const target = r < R ? R - 1.5 * band : R + 1.5 * band;
      moves.push([i, j, target - r, u.slice()]);
    });
    if (moves.length === 0) break;
    for (const [i, j, delta, u] of moves) {
      for (let a = 0; a < d; a++) {
        x[i * d + a] -= 0.5 * delta * u[a];
        x[j * d + a] += 0.5 * delta * u[a];
      }
    }
    nudges += moves.length;
  }
  return { clearance: clearanceOf(s, radii, reach), nudges };
}

/** clearDistances for the cutoff alone, with band CUTOFF_CLEARANCE rc: what every check configuration gets. */
export function clearCutoff(s: Structure, rc: number, maxSweeps = 20): { clearance: number; nudges: number } {
  return clearDistances(s, [rc], CUTOFF_CLEARANCE * rc, maxSweeps);
}

/**
 * The configuration of one case: periodic or open (chosen by the seed unless forced), rattled and strained, with pair
 * distances cleared from the cutoff (clearCutoff). Open clusters reach one cutoff from the centre, so the centre atom
 * has a full neighbourhood and the surface is rough.
 */
export function caseConfig(pot: SitePotential, opts: CheckOptions, seed: number): Config {
  const lattice = opts.lattice ?? 'triangular';
  const r0 = latticeR0(pot, opts);
  const boundary = opts.boundary ?? (new Rng(seed ^ 0x5bd1e995).uniform() < 0.5 ? 'periodic' : 'open');
  const amp = opts.rattle ?? 0.04;
  const structure =
    boundary === 'periodic'
      ? rattledPeriodic(pot, lattice, r0, seed, amp)
      : rattledCluster(lattice, r0, Math.max(1.5 * r0, pot.cutoff), seed, amp);
  const { clearance, nudges } = clearCutoff(structure, pot.cutoff);
  return { structure, boundary, seed, lattice, r0, cutoffClearance: clearance, nudges };
}

/** Random rotation (det +1): an angle in 2D, a normalised Gaussian quaternion in 3D. Row-major dim x dim. */
export function randomRotation(rng: Rng, dim: Dim): Float64Array {
  if (dim === 2) {
    const t = 2 * Math.PI * rng.uniform();
    return Float64Array.of(Math.cos(t), -Math.sin(t), Math.sin(t), Math.cos(t));
  }
  let w = rng.normal();
  let x = rng.normal();
  let y = rng.normal();
  let z = rng.normal();
  const n = Math.hypot(w, x, y, z);
  w /= n;
  x /= n;
  y /= n;
  z /= n;
  return Float64Array.of(
    1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
    2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
    2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
  );
}

/** y = Q x for every row x (atoms or cell vectors). */
export function rotateRows(x: Float64Array, Q: Float64Array, dim: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i += dim)
    for (let a = 0; a < dim; a++) {
      let t = 0;
      for (let b = 0; b < dim; b++) t += Q[a * dim + b] * x[i + b];
      out[i + a] = t;
    }
  return out;
}

export function maxAbs(x: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) {
    const v = Math.abs(x[i]);
    if (Number.isNaN(v)) return NaN; // a NaN must fail the check, never vanish in a max
    if (v > m) m = v;
  }
  return m;
}

/**
 * Largest |a_i - b_i| / scale and its index; a NaN wins (a check must fail on it, never skip past it in a max).
 */
export function worstComponent(a: ArrayLike<number>, b: ArrayLike<number>, scale: number): { worst: number; at: number } {
  let worst = 0;
  let at = 0;
  for (let i = 0; i < a.length; i++) {
    const e = Math.abs(a[i] - b[i]) / scale;
    if (Number.isNaN(e)) return { worst: NaN, at: i };
    if (e > worst) {
      worst = e;
      at = i;
    }
  }
  return { worst, at };
}

export function maxAbsDiff(x: ArrayLike<number>, y: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) {
    const v = Math.abs(x[i] - y[i]);
    if (Number.isNaN(v)) return NaN;
    if (v > m) m = v;
  }
  return m;
}
