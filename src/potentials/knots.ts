import { buildNeighbourList } from '../lattice/neighbours.ts';
import { atomCount, inverse, type Structure } from '../lattice/structure.ts';
import { EAMPotential } from './eam.ts';
import type { LammpsSpline } from './eam-table.ts';
import type { LinearPath, SitePotential } from './types.ts';

/**
 * Where a potential is not smooth, and what that means for derivative checks.
 *
 * A LAMMPS EAM table is a C1 spline: value and slope are continuous at its knots, the second derivative jumps. Along a
 * straight path in configuration space the energy is then C1 with kinks wherever a pair distance crosses a knot of
 * phi or rho, or a site density crosses a knot of F. Between kinks it is smooth, so a line integral of the forces
 * split at the kinks is exact to quadrature round-off, while finite differences straddling them are not.
 */

/** A table's knot grid, as the tabulated functions declare it (src/potentials/eam-table.ts). */
export interface KnotGrid {
  /** Knots at m * step, m = 0 .. count - 1; past the last knot the table is clamped (a kink there too). */
  readonly step: number;
  readonly count: number;
  /** Where the function drops to zero (the cutoff; Infinity for an embedding). */
  readonly end: number;
  /** The spline itself, for the regularity report (jumps of its derivatives at the knots). */
  readonly spline: LammpsSpline;
  /** Argument of the function: a pair distance or a site density. */
  readonly over: 'r' | 'rho';
}

function gridOf(f: unknown): KnotGrid | null {
  const k = (f as { knots?: unknown } | null)?.knots;
  return k && typeof k === 'object' && typeof (k as KnotGrid).step === 'number' ? (k as KnotGrid) : null;
}

/** Radii where an analytic radial function with a SmoothCutoff is not C-infinity (its 4th derivative jumps). */
function cutoffRadii(f: unknown): number[] {
  const fc = (f as { fc?: { rin?: unknown; rc?: unknown } } | null)?.fc;
  return fc && typeof fc.rin === 'number' && typeof fc.rc === 'number' ? [fc.rin, fc.rc] : [];
}

/** The knot grids of an EAM potential's tables (pair, density, embedding), or nulls for analytic parts. */
export function eamGrids(pot: SitePotential): { pair: KnotGrid | null; density: KnotGrid | null; embedding: KnotGrid | null } | null {
  const src = knotSource(pot);
  if (!(src instanceof EAMPotential)) return null;
  return { pair: gridOf(src.pair), density: gridOf(src.density), embedding: gridOf(src.embedding) };
}

/** The potential whose declared knots stand for pot's (itself, or the native model attached by withKnotsOf). */
export function knotSource(pot: SitePotential): SitePotential {
  return (pot as { knotSource?: SitePotential }).knotSource ?? pot;
}

/** Whether pot declares where it is not smooth (kinksAlong or knotted tables): checks can then split paths there. */
export function declaresKinks(pot: SitePotential): boolean {
  if (typeof pot.kinksAlong === 'function') return true;
  const g = eamGrids(pot);
  return !!g && !!(g.pair || g.density || g.embedding);
}

/**
 * The kinks of E(x + t v) for t in (t0, t1), sorted and distinct: the potential's own kinksAlong if it has one, else
 * those of an EAMPotential's tables and analytic cutoffs, else none (the potential declares nothing; checks then fall
 * back on refinement and their error estimates).
 */
export function kinksAlong(pot: SitePotential, s: Structure, path: LinearPath, t0: number, t1: number): number[] {
  if (typeof pot.kinksAlong === 'function') return pot.kinksAlong(s, path, t0, t1);
  const src = knotSource(pot);
  if (src instanceof EAMPotential) return eamKinks(src, s, path, t0, t1);
  return [];
}

/**
 * An external engine running the same model as `native` (e.g. LAMMPS eam/fs on the file that readEamPotential read),
 * with native's knots declared for it: LAMMPS splines the file on the same grid, so its kinks are at the same places.
 */
export function withKnotsOf(engine: SitePotential, native: SitePotential): SitePotential & { knotSource: SitePotential } {
  return {
    name: engine.name,
    cutoff: engine.cutoff,
    ...(engine.ignoresNeighbourList ? { ignoresNeighbourList: true } : {}),
    ...(engine.units ? { units: engine.units } : {}),
    ...(engine.lengthScale !== undefined ? { lengthScale: engine.lengthScale } : {}),
    describe: () => ({ ...engine.describe(), knotsFrom: native.name }),
    evaluate: (s, nl) => engine.evaluate(s, nl),
    hessianVector: (s, nl, v) => engine.hessianVector(s, nl, v),
    knotSource: native,
  };
}

interface PairPath {
  i: number;
  j: number;
  d0: Float64Array;
  w: Float64Array;
}

/** Every directed pair that can come within `reach` along the path, with d(t) = d0 + t w. */
function pairPaths(s: Structure, path: LinearPath, reach: number, T: number): PairPath[] {
  const d = s.dim;
  const n = atomCount(s);
  let vmax = 0;
  for (let i = 0; i < n; i++) {
    let q = 0;
    for (let a = 0; a < d; a++) q += path.positions[i * d + a] ** 2;
    vmax = Math.max(vmax, Math.sqrt(q));
  }
  const inv = s.cell ? inverse(s.cell, d) : null;
  let strainRate = 0; // |vc cell^-1|_F bounds how fast an image shift n.cell(t) moves per unit of its length
  if (s.cell && path.cell && inv) {
    for (let a = 0; a < d; a++)
      for (let b = 0; b < d; b++) {
        let t = 0;
        for (let k = 0; k < d; k++) t += inv[a * d + k] * path.cell[k * d + b];
        strainRate += t * t;
      }
    strainRate = Math.sqrt(strainRate);
  }
  const margin = T * (2 * vmax + strainRate * 2 * reach) + 1e-9 * reach;
  const nl = buildNeighbourList(s, reach + margin);
  const x = s.positions;
  const out: PairPath[] = [];
  for (let i = 0; i < n; i++)
    for (let k = nl.offsets[i]; k < nl.offsets[i + 1]; k++) {
      const j = nl.index[k];
      const d0 = new Float64Array(d);
      const w = new Float64Array(d);
      for (let a = 0; a < d; a++) {
        d0[a] = x[j * d + a] + nl.shift[k * d + a] - x[i * d + a];
        w[a] = path.positions[j * d + a] - path.positions[i * d + a];
      }
      if (inv && path.cell) {
        // shift = sum_b nb cell_b with integer nb; it moves with the cell: + t sum_b nb vc_b.
        for (let b = 0; b < d; b++) {
          let nb = 0;
          for (let a = 0; a < d; a++) nb += nl.shift[k * d + a] * inv[a * d + b];
          nb = Math.round(nb);
          if (nb !== 0) for (let a = 0; a < d; a++) w[a] += nb * path.cell[b * d + a];
        }
      }
      out.push({ i, j, d0, w });
    }
  return out;
}

/** t in (t0, t1) with |d0 + t w| = R. */
function crossings(p: PairPath, R: number, t0: number, t1: number, out: number[]): void {
  let A = 0;
  let B = 0;
  let C = -R * R;
  for (let a = 0; a < p.d0.length; a++) {
    A += p.w[a] * p.w[a];
    B += p.d0[a] * p.w[a];
    C += p.d0[a] * p.d0[a];
  }
  if (A === 0) return;
  const disc = B * B - A * C;
  if (disc < 0) return;
  const sq = Math.sqrt(disc);
  // Stable roots of A t^2 + 2 B t + C = 0.
  const q = B >= 0 ? -(B + sq) : -(B - sq);
  const roots = q !== 0 ? [q / A, C / q] : [0];
  for (const t of roots) if (t > t0 && t < t1) out.push(t);
}

function distanceRange(p: PairPath, t0: number, t1: number): [number, number] {
  const r = (t: number) => Math.hypot(...p.d0.map((v, a) => v + t * p.w[a]));
  let lo = Math.min(r(t0), r(t1));
  const hi = Math.max(r(t0), r(t1));
  let A = 0;
  let B = 0;
  for (let a = 0; a < p.d0.length; a++) {
    A += p.w[a] * p.w[a];
    B += p.d0[a] * p.w[a];
  }
  if (A > 0) {
    const tm = -B / A;
    if (tm > t0 && tm < t1) lo = Math.min(lo, r(tm));
  }
  return [lo, hi];
}

/** Knot positions of a grid inside [lo, hi] (knots, the clamp at the last knot, and the end). */
function gridPointsIn(g: KnotGrid, lo: number, hi: number): number[] {
  const out: number[] = [];
  const m0 = Math.max(0, Math.ceil(lo / g.step - 1e-9));
  const m1 = Math.min(g.count - 1, Math.floor(hi / g.step + 1e-9));
  for (let m = m0; m <= m1; m++) out.push(m * g.step);
  if (Number.isFinite(g.end) && g.end >= lo && g.end <= hi) out.push(g.end);
  return out;
}

function radialPointsIn(f: unknown, lo: number, hi: number): number[] {
  const g = gridOf(f);
  if (g) return gridPointsIn(g, lo, hi);
  return cutoffRadii(f).filter((R) => R >= lo && R <= hi);
}

function eamKinks(pot: EAMPotential, s: Structure, path: LinearPath, t0: number, t1: number): number[] {
  const T = Math.max(Math.abs(t0), Math.abs(t1));
  const pairs = pairPaths(s, path, pot.cutoff, T);
  const kinks: number[] = [];
  const moving = new Set<number>();
  for (const p of pairs) {
    if (p.w.every((v) => v === 0)) continue;
    moving.add(p.i);
    const [lo, hi] = distanceRange(p, t0, t1);
    if (lo > pot.cutoff * (1 + 1e-12)) continue;
    const radii = new Set([...radialPointsIn(pot.pair, lo, hi), ...(pot.density ? radialPointsIn(pot.density, lo, hi) : [])]);
    for (const R of radii) crossings(p, R, t0, t1, kinks);
  }
  const emb = gridOf(pot.embedding);
  if (emb && pot.density) {
    // Site densities crossing a knot of F: bracketed between samples (the ends, the radial kinks, 8 even steps), then
    // bisected. rho_i(t) is monotone on such short stretches in practice; a double crossing between two samples
    // would be missed, and the checks' two-resolution error estimate is what would then show it.
    const byI = new Map<number, PairPath[]>();
    for (const p of pairs) {
      if (!moving.has(p.i)) continue;
      let l = byI.get(p.i);
      if (!l) byI.set(p.i, (l = []));
      l.push(p);
    }
    const samples = [t0, t1, ...kinks];
    for (let q = 1; q < 8; q++) samples.push(t0 + ((t1 - t0) * q) / 8);
    samples.sort((a, b) => a - b);
    const out = new Float64Array(3);
    const dens = pot.density;
    const rc = dens.cutoff;
    for (const list of byI.values()) {
      const rho = (t: number): number => {
        let sum = 0;
        for (const p of list) {
          let r2 = 0;
          for (let a = 0; a < p.d0.length; a++) r2 += (p.d0[a] + t * p.w[a]) ** 2;
          const r = Math.sqrt(r2);
          if (r < rc) {
            dens.eval(r, out);
            sum += out[0];
          }
        }
        return sum;
      };
      let ta = samples[0];
      let ra = rho(ta);
      for (let q = 1; q < samples.length; q++) {
        const tb = samples[q];
        const rb = rho(tb);
        for (const K of gridPointsIn(emb, Math.min(ra, rb), Math.max(ra, rb))) {
          if ((ra - K) * (rb - K) > 0) continue;
          let a = ta;
          let b = tb;
          const sa = Math.sign(ra - K);
          for (let it = 0; it < 60 && b - a > 1e-15 * T; it++) {
            const m = 0.5 * (a + b);
            if (Math.sign(rho(m) - K) === sa) a = m;
            else b = m;
          }
          kinks.push(0.5 * (a + b));
        }
        ta = tb;
        ra = rb;
      }
    }
  }
  kinks.sort((a, b) => a - b);
  const uniq: number[] = [];
  for (const t of kinks) if (t > t0 && t < t1 && (uniq.length === 0 || t - uniq[uniq.length - 1] > 1e-14 * T)) uniq.push(t);
  return uniq;
}
