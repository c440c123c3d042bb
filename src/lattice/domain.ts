import { GeometryError, ParameterError, requireParam } from '../util/errors.ts';
import { basisCount, sitePosition, siteKey, type Lattice } from './lattice.ts';
import { assertCellFitsCutoff, perpendicularWidths, type Structure } from './structure.ts';

/**
 * Point defects at the origin. 'interstitial' is the self-interstitial in its standard stable form: in 2D an atom at
 * a triangle (square) centre; in 3D the split dumbbell, <100> in fcc and <110> in bcc (the origin's atom replaced by
 * a pair straddling it). 'interstitial-octahedral' (3D only) is one extra atom at the octahedral site, kept as a named
 * variant: in most metals it is not the lowest minimum (often not a minimum at all, which the studies' stability
 * check then reports).
 */
export type DefectKind = 'none' | 'vacancy' | 'divacancy' | 'interstitial' | 'interstitial-octahedral';
export const DEFECT_KINDS: readonly DefectKind[] = ['none', 'vacancy', 'divacancy', 'interstitial', 'interstitial-octahedral'];
export type BoundaryKind = 'ball' | 'periodic';
export const BOUNDARY_KINDS: readonly BoundaryKind[] = ['ball', 'periodic'];

/** Key of the interstitial atom (not a lattice site); a 3D dumbbell's second atom is DUMBBELL_KEY. */
export const INTERSTITIAL_KEY = 'int:0';
export const DUMBBELL_KEY = 'int:1';

/**
 * Half the separation of the unrelaxed dumbbell, in units of the cubic lattice constant a, along its axis: fcc [100]
 * and bcc [110]/sqrt(2). A start geometry only (the relaxation sets the true separation, e.g. about 0.6 a in Cu): it
 * keeps each atom farther than 0.5 r0 from every lattice site and on the dumbbell's symmetry axis, so the relaxation
 * stays on that axis.
 */
export const DUMBBELL_HALF_SEPARATION = { fcc: 0.3, bcc: 0.25 * Math.SQRT2 } as const;

/** Unit axis of the 3D split dumbbell: <100> in fcc, <110> in bcc. */
export function dumbbellAxis(l: Lattice): number[] {
  if (l.name === 'fcc') return [1, 0, 0];
  if (l.name === 'bcc') return [Math.SQRT1_2, Math.SQRT1_2, 0];
  throw new ParameterError(`the split-dumbbell interstitial is defined for fcc and bcc, not ${l.name}`);
}

/**
 * The atoms a defect adds that are not lattice sites, with their stable keys and unrelaxed positions: 2D interstitial
 * (INTERSTITIAL_KEY at lattice.interstitial), 3D dumbbell (INTERSTITIAL_KEY at +s axis, DUMBBELL_KEY at -s axis;
 * the origin's site is removed), 3D octahedral interstitial (INTERSTITIAL_KEY at lattice.interstitial).
 */
export function defectExtraSites(l: Lattice, defect: DefectKind): Array<{ key: string; position: Float64Array }> {
  checkDefect(defect, l);
  if (defect === 'interstitial-octahedral' || (defect === 'interstitial' && l.dim === 2)) {
    return [{ key: INTERSTITIAL_KEY, position: Float64Array.from(l.interstitial) }];
  }
  if (defect === 'interstitial') {
    const axis = dumbbellAxis(l);
    const a = Math.sqrt(l.cell[0] ** 2 + l.cell[1] ** 2 + l.cell[2] ** 2);
    const s = DUMBBELL_HALF_SEPARATION[l.name as 'fcc' | 'bcc'] * a;
    return [
      { key: INTERSTITIAL_KEY, position: Float64Array.from(axis, (c) => s * c) },
      { key: DUMBBELL_KEY, position: Float64Array.from(axis, (c) => -s * c) },
    ];
  }
  return [];
}

/**
 * A computational domain around a point defect at the origin.
 * - `ball` (clamped): atoms with |x| <= R are free; a buffer of width 2 rc around them is held fixed at the lattice
 *   positions. Width 2 rc (not just rc) makes the site energies of every site that a free atom can influence exact for
 *   many-body potentials (an EAM site within rc of a free atom needs its own full neighbourhood), so the clamped
 *   problem is the exact Galerkin restriction of the infinite-lattice energy difference.
 * - `periodic`: a supercell of side about R (whole conventional cells), all atoms free.
 * `energyMask` marks the sites whose site energy can differ from the perfect-lattice value; the formation energy is
 * the sum of (V_l - e0) over them.
 */
export interface Domain {
  readonly lattice: Lattice;
  readonly defect: DefectKind;
  readonly boundary: BoundaryKind;
  /** R: ball radius or requested periodic side. */
  readonly size: number;
  readonly cutoff: number;
  /** Reference (unrelaxed) configuration with the defect inserted. */
  readonly structure: Structure;
  readonly keys: readonly string[];
  readonly free: Uint8Array;
  readonly energyMask: Uint8Array;
  /** Repetitions of the conventional cell per axis (periodic only). */
  readonly repetitions?: number[];
}

function removedKeys(l: Lattice, defect: DefectKind): Set<string> {
  const zero = new Array(l.dim).fill(0);
  if (defect === 'vacancy' || (defect === 'interstitial' && l.dim === 3)) return new Set([siteKey(zero, 0)]);
  if (defect === 'divacancy') return new Set([siteKey(zero, 0), siteKey(l.divacancyPartner.cell, l.divacancyPartner.basis)]);
  return new Set();
}

function checkDefect(defect: DefectKind, l: Lattice): void {
  if (!DEFECT_KINDS.includes(defect)) {
    throw new ParameterError(`unknown defect '${defect}'; valid defects: ${DEFECT_KINDS.join(', ')}`);
  }
  if (defect === 'interstitial-octahedral' && l.dim !== 3) {
    throw new ParameterError(
      `defect 'interstitial-octahedral' is a 3D defect (fcc, bcc); on the 2D ${l.name} lattice use 'interstitial'`,
    );
  }
}

/** Clamped ball of radius R around the defect, with a fixed buffer of width 2 * cutoff. */
export function ballDomain(l: Lattice, defect: DefectKind, R: number, cutoff: number): Domain {
  checkDefect(defect, l);
  requireParam('R (ball radius)', R, (v) => v > 0, '> 0');
  requireParam('cutoff', cutoff, (v) => v > 0, '> 0');
  const d = l.dim;
  const Rout = R + 2 * cutoff;
  const Ren = R + cutoff;
  const widths = perpendicularWidths(l.cell, d);
  const range = widths.map((w) => Math.ceil(Rout / w) + 1);
  const removed = removedKeys(l, defect);
  const pos: number[] = [];
  const keys: string[] = [];
  const free: number[] = [];
  const en: number[] = [];
  const nb = basisCount(l);
  const m = new Array(d).fill(0);
  const x = new Float64Array(d);
  const tol = 1e-9 * l.r0;
  const visit = (k: number): void => {
    if (k === d) {
      for (let b = 0; b < nb; b++) {
        sitePosition(l, m, b, x);
        let r2 = 0;
        for (let a = 0; a < d; a++) r2 += x[a] * x[a];
        const r = Math.sqrt(r2);
        if (r > Rout + tol) continue;
        const key = siteKey(m, b);
        if (removed.has(key)) continue;
        for (let a = 0; a < d; a++) pos.push(x[a]);
        keys.push(key);
        free.push(r <= R + tol ? 1 : 0);
        en.push(r <= Ren + tol ? 1 : 0);
      }
      return;
    }
    for (let i = -range[k]; i <= range[k]; i++) {
      m[k] = i;
      visit(k + 1);
    }
  };
  visit(0);
  for (const e of defectExtraSites(l, defect)) {
    for (let a = 0; a < d; a++) pos.push(e.position[a]);
    keys.push(e.key);
    free.push(1);
    en.push(1);
  }
  if (!free.some((f) => f)) throw new GeometryError(`ball of radius ${R} contains no free atom`);
  return {
    lattice: l,
    defect,
    boundary: 'ball',
    size: R,
    cutoff,
    structure: { dim: d, positions: Float64Array.from(pos), cell: null },
    keys,
    free: Uint8Array.from(free),
    energyMask: Uint8Array.from(en),
  };
}

/** Number of conventional cells per axis for a periodic domain of side about R. */
export function periodicRepetitions(l: Lattice, R: number): number[] {
  const d = l.dim;
  const reps: number[] = [];
  for (let k = 0; k < d; k++) {
    let len = 0;
    for (let a = 0; a < d; a++) len += l.cell[k * d + a] ** 2;
    reps.push(Math.max(1, Math.round(R / Math.sqrt(len))));
  }
  return reps;
}

/** Periodic supercell of side about R (whole conventional cells), centred on the defect at the origin. */
export function periodicDomain(l: Lattice, defect: DefectKind, R: number, cutoff: number, reps?: number[]): Domain {
  checkDefect(defect, l);
  requireParam('R (periodic cell side)', R, (v) => v > 0, '> 0');
  requireParam('cutoff', cutoff, (v) => v > 0, '> 0');
  const d = l.dim;
  const n = reps ?? periodicRepetitions(l, R);
  const cell = new Float64Array(d * d);
  for (let k = 0; k < d; k++) for (let a = 0; a < d; a++) cell[k * d + a] = n[k] * l.cell[k * d + a];
  const removed = removedKeys(l, defect);
  const pos: number[] = [];
  const keys: string[] = [];
  const nb = basisCount(l);
  const m = new Array(d).fill(0);
  const x = new Float64Array(d);
  const lo = n.map((v) => -Math.floor(v / 2));
  const visit = (k: number): void => {
    if (k === d) {
      for (let b = 0; b < nb; b++) {
        const key = siteKey(m, b);
        if (removed.has(key)) continue;
        sitePosition(l, m, b, x);
        for (let a = 0; a < d; a++) pos.push(x[a]);
        keys.push(key);
      }
      return;
    }
    for (let i = lo[k]; i < lo[k] + n[k]; i++) {
      m[k] = i;
      visit(k + 1);
    }
  };
  visit(0);
  for (const e of defectExtraSites(l, defect)) {
    for (let a = 0; a < d; a++) pos.push(e.position[a]);
    keys.push(e.key);
  }
  const structure: Structure = { dim: d, positions: Float64Array.from(pos), cell };
  assertCellFitsCutoff(structure, cutoff);
  const N = keys.length;
  return {
    lattice: l,
    defect,
    boundary: 'periodic',
    size: R,
    cutoff,
    structure,
    keys,
    free: new Uint8Array(N).fill(1),
    energyMask: new Uint8Array(N).fill(1),
    repetitions: n,
  };
}

export function makeDomain(l: Lattice, defect: DefectKind, boundary: BoundaryKind, R: number, cutoff: number): Domain {
  if (boundary === 'ball') return ballDomain(l, defect, R, cutoff);
  if (boundary === 'periodic') return periodicDomain(l, defect, R, cutoff);
  throw new ParameterError(`unknown boundary '${boundary as string}'; valid: ${BOUNDARY_KINDS.join(', ')}`);
}

/** Smallest perfect periodic cell (whole conventional cells) whose widths are at least 2 * cutoff. */
export function smallestPerfectCell(l: Lattice, cutoff: number): Domain {
  const d = l.dim;
  const w = perpendicularWidths(l.cell, d);
  const reps = w.map((wk) => Math.max(1, Math.ceil((2 * cutoff) / wk - 1e-12)));
  return periodicDomain(l, 'none', 1, cutoff, reps);
}

/** Map from site key to atom index, for comparing displacements between domains site by site. */
export function keyIndex(dom: Domain): Map<string, number> {
  const m = new Map<string, number>();
  dom.keys.forEach((k, i) => m.set(k, i));
  return m;
}
