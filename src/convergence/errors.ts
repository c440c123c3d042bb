import { basisCount, sitePosition, siteKey, type Lattice } from '../lattice/lattice.ts';
import { defectExtraSites, type DefectKind } from '../lattice/domain.ts';
import { HP } from '../util/decimal.ts';
import { ParameterError } from '../util/errors.ts';
import { NeumaierSum } from '../util/sum.ts';

/**
 * Error measures between two relaxed displacement fields, site by site through the stable site keys (THEORY.md
 * section 2): the energy norm ||D(u_a - u_b)|| over nearest-neighbour differences, the max norm max_l |u_a - u_b|,
 * and formation-energy differences in high precision. Shared by the domain study (P1) and the MLIP studies (P2-P6).
 */

/**
 * A displacement field keyed by site. `extension` says what the field is at lattice sites it does not list:
 * - 'zero': the field is 0 there. True for a clamped ball: every lattice site outside the domain is (by the
 *   Galerkin construction) at its lattice position, so u_R extended by 0 is the finite-domain solution on all of
 *   the lattice, and errors are measured over every site either field lists.
 * - 'none': undefined there. True for a periodic cell: its field is periodic, not a field on the infinite lattice;
 *   only the cell's own sites (its listed keys) are compared.
 */
export interface SiteField {
  readonly dim: number;
  readonly keys: readonly string[];
  /** Flat displacements, dim components per key, in the order of keys. */
  readonly u: Float64Array;
  readonly extension: 'zero' | 'none';
}

/** Nearest-neighbour graph on site keys (the lattice's nearest-neighbour bonds, plus those of extra sites). */
export interface NeighbourGraph {
  neighbours(key: string): readonly string[];
}

/**
 * The nearest-neighbour graph of a lattice on its stable site keys 'm1,...,md:b'. Extra (non-lattice) sites such as
 * the interstitial 'int:0' are bonded to the lattice sites within 1.25 x their smallest distance to the lattice (in
 * the reference geometry), both ways. Neighbour lists are cached per key.
 */
export function latticeNeighbourGraph(
  lattice: Lattice,
  extra: ReadonlyArray<{ key: string; position: ArrayLike<number> }> = [],
): NeighbourGraph {
  const d = lattice.dim;
  const nb = basisCount(lattice);
  // Offsets (cell shift, target basis) of the nearest neighbours of each basis site.
  const offsets: Array<Array<{ dm: number[]; b: number }>> = [];
  const x0 = new Float64Array(d);
  const x1 = new Float64Array(d);
  const zero = new Array(d).fill(0);
  const R = 2;
  for (let b0 = 0; b0 < nb; b0++) {
    sitePosition(lattice, zero, b0, x0);
    const list: Array<{ dm: number[]; b: number; r: number }> = [];
    const m = new Array(d).fill(0);
    const visit = (k: number): void => {
      if (k === d) {
        for (let b = 0; b < nb; b++) {
          sitePosition(lattice, m, b, x1);
          let r2 = 0;
          for (let a = 0; a < d; a++) r2 += (x1[a] - x0[a]) ** 2;
          if (r2 > 0) list.push({ dm: m.slice(), b, r: Math.sqrt(r2) });
        }
        return;
      }
      for (let i = -R; i <= R; i++) {
        m[k] = i;
        visit(k + 1);
      }
    };
    visit(0);
    const rmin = Math.min(...list.map((e) => e.r));
    offsets.push(list.filter((e) => e.r <= rmin * (1 + 1e-6)).map(({ dm, b }) => ({ dm, b })));
  }
  // Extra sites: bond to lattice sites within 1.25 x their nearest lattice distance.
  const extraNbrs = new Map<string, string[]>();
  const reverse = new Map<string, string[]>();
  for (const e of extra) {
    const cand: Array<{ key: string; r: number }> = [];
    // Search cells around the extra site (its position divided by the lattice spacing scale).
    const m = new Array(d).fill(0);
    const span = 3;
    const visit = (k: number): void => {
      if (k === d) {
        for (let b = 0; b < nb; b++) {
          sitePosition(lattice, m, b, x1);
          let r2 = 0;
          for (let a = 0; a < d; a++) r2 += (x1[a] - e.position[a]) ** 2;
          cand.push({ key: siteKey(m, b), r: Math.sqrt(r2) });
        }
        return;
      }
      for (let i = -span; i <= span; i++) {
        m[k] = i;
        visit(k + 1);
      }
    };
    visit(0);
    const rmin = Math.min(...cand.map((c) => c.r));
    const near = cand.filter((c) => c.r <= 1.25 * rmin).map((c) => c.key);
    extraNbrs.set(e.key, near);
    for (const k of near) {
      const l = reverse.get(k) ?? [];
      l.push(e.key);
      reverse.set(k, l);
    }
  }
  const cache = new Map<string, readonly string[]>();
  return {
    neighbours(key: string): readonly string[] {
      const hit = cache.get(key);
      if (hit) return hit;
      const ex = extraNbrs.get(key);
      if (ex) {
        cache.set(key, ex);
        return ex;
      }
      const colon = key.lastIndexOf(':');
      if (colon < 0) throw new ParameterError(`site key '${key}' is not of the form 'm1,...,md:b'`);
      const m = key.slice(0, colon).split(',').map(Number);
      const b = Number(key.slice(colon + 1));
      if (m.length !== d || !m.every(Number.isInteger) || !(b >= 0 && b < nb)) {
        throw new ParameterError(`site key '${key}' does not name a site of the ${lattice.name} lattice`);
      }
      const out: string[] = [];
      const mm = new Array(d);
      for (const o of offsets[b]) {
        for (let a = 0; a < d; a++) mm[a] = m[a] + o.dm[a];
        out.push(siteKey(mm, o.b));
      }
      const rv = reverse.get(key);
      if (rv) out.push(...rv);
      cache.set(key, out);
      return out;
    },
  };
}

export interface DisplacementErrors {
  /** ||D(u_a - u_b)||: sqrt of the sum over sites l and nearest-neighbour bonds (l, l') of |w(l') - w(l)|^2. */
  energyNorm: number;
  /** max over compared sites of |w(l)| (Euclidean norm per site). */
  maxNorm: number;
  /** Sites compared and directed bonds summed. */
  sites: number;
  bonds: number;
  /** Translation subtracted from w = u_a - u_b before the max norm (zeros if none). */
  translation: number[];
}

export interface ComparisonOptions {
  /**
   * Subtract the mean of w = u_a - u_b over the compared sites before taking the max norm. Default: true when
   * either field is periodic (extension 'none'), because a periodic relaxation is defined only up to a rigid
   * translation; false for two clamped fields, whose translation is fixed by the clamp. The energy norm is
   * translation-invariant and unaffected.
   */
  removeTranslation?: boolean;
}

/**
 * Errors of field `a` against reference `b` (w = u_a - u_b).
 *
 * Compared sites: those where both fields are defined, i.e. keys listed by a field or any site if its extension is
 * 'zero'. So a clamped ball against a larger clamped ball is compared on the union of their sites (u_a = 0 outside
 * its domain: the error includes the far field that the small domain cuts off), and a periodic cell against a ball
 * reference on the cell's own sites (the ones both domains share); bonds of the energy norm are counted when both
 * ends are compared sites, or, if both fields have extension 'zero', also to sites outside both domains (w = 0
 * there). Bonds crossing the periodic boundary are therefore not counted for a periodic cell: its error is the
 * error on the region [-R/2, R/2)^d around the defect that it represents.
 */
export function displacementErrors(
  a: SiteField,
  b: SiteField,
  graph: NeighbourGraph,
  opts: ComparisonOptions = {},
): DisplacementErrors {
  if (a.dim !== b.dim) throw new ParameterError(`fields have dimensions ${a.dim} and ${b.dim}`);
  const d = a.dim;
  for (const f of [a, b]) {
    if (f.u.length !== f.keys.length * d) {
      throw new ParameterError(`field has ${f.keys.length} keys but ${f.u.length} displacement components`);
    }
  }
  const ia = new Map<string, number>();
  a.keys.forEach((k, i) => ia.set(k, i));
  const ib = new Map<string, number>();
  b.keys.forEach((k, i) => ib.set(k, i));
  const definedA = (k: string): boolean => a.extension === 'zero' || ia.has(k);
  const definedB = (k: string): boolean => b.extension === 'zero' || ib.has(k);
  const sites: string[] = [];
  const seen = new Set<string>();
  for (const k of [...a.keys, ...b.keys]) {
    if (seen.has(k)) continue;
    seen.add(k);
    if (definedA(k) && definedB(k)) sites.push(k);
  }
  const idx = new Map<string, number>();
  sites.forEach((k, i) => idx.set(k, i));
  const w = new Float64Array(sites.length * d);
  for (let s = 0; s < sites.length; s++) {
    const pa = ia.get(sites[s]);
    const pb = ib.get(sites[s]);
    for (let c = 0; c < d; c++) {
      w[s * d + c] = (pa !== undefined ? a.u[pa * d + c] : 0) - (pb !== undefined ? b.u[pb * d + c] : 0);
    }
  }
  const bothZero = a.extension === 'zero' && b.extension === 'zero';
  const acc = new NeumaierSum();
  let bonds = 0;
  for (let s = 0; s < sites.length; s++) {
    for (const nk of graph.neighbours(sites[s])) {
      const t = idx.get(nk);
      if (t === undefined && !bothZero) continue;
      let q = 0;
      for (let c = 0; c < d; c++) {
        const diff = (t !== undefined ? w[t * d + c] : 0) - w[s * d + c];
        q += diff * diff;
      }
      acc.add(q);
      bonds++;
    }
  }
  const removeT = opts.removeTranslation ?? !bothZero;
  const translation = new Array(d).fill(0);
  if (removeT && sites.length > 0) {
    for (let c = 0; c < d; c++) {
      const m = new NeumaierSum();
      for (let s = 0; s < sites.length; s++) m.add(w[s * d + c]);
      translation[c] = m.value / sites.length;
    }
  }
  let maxNorm = 0;
  for (let s = 0; s < sites.length; s++) {
    let q = 0;
    for (let c = 0; c < d; c++) q += (w[s * d + c] - translation[c]) ** 2;
    if (!(q <= maxNorm)) maxNorm = q;
  }
  return { energyNorm: Math.sqrt(acc.value), maxNorm: Math.sqrt(maxNorm), sites: sites.length, bonds, translation };
}

/** |E_f(a) - E_f(b)| computed in decimal from exact (string or number) formation energies. */
export function formationEnergyError(a: string | number, b: string | number): number {
  return new HP(a).minus(new HP(b)).abs().toNumber();
}

/** The graph to compare defect fields on: the lattice's nearest-neighbour graph, plus the defect's extra atoms
 * (interstitial, the two atoms of a 3D dumbbell; src/lattice/domain.ts defectExtraSites) when it has any. */
export function defectNeighbourGraph(lattice: Lattice, defect: string): NeighbourGraph {
  return latticeNeighbourGraph(lattice, defect === 'none' ? [] : defectExtraSites(lattice, defect as DefectKind));
}
