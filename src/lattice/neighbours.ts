import { GeometryError } from '../util/errors.ts';
import { assertFinitePositions, cellVolume, inverse, perpendicularWidths, type Dim, type Structure } from './structure.ts';

/**
 * Neighbour list in CSR form: the neighbours of atom i are index[offsets[i] .. offsets[i+1]), and the pair vector is
 * r_ij = x_j + shift_ij - x_i, where shift_ij (dim components) is the periodic image translation (zero for open
 * boundaries). Every ordered pair is listed (full list: (i, j, s) and (j, i, -s)). Built with `cutoff` = interaction
 * cutoff + skin, so it can be reused while atoms move less than skin / 2 (see NeighbourCache).
 *
 * Lists from buildNeighbourList carry the same pairs as a half list (`half`, each unordered pair once), which is what
 * the pair kernels read; the full arrays are expanded from it on first access (most relaxations never need them).
 */
export interface NeighbourList {
  readonly n: number;
  readonly dim: Dim;
  readonly cutoff: number;
  readonly offsets: Int32Array;
  readonly index: Int32Array;
  readonly shift: Float64Array;
  /** The same pairs, each unordered pair once (absent on lists made by hand; EAMPotential then derives it). */
  readonly half?: HalfNeighbourList;
}

/**
 * Each unordered pair within the cutoff once, over "sites" laid out as LAMMPS lays out owned and ghost atoms: site e is
 * atom atom[e] moved by the lattice translation translations[dim * code[e] ..], i.e. X_e = x_atom[e] + t_code[e]. Every
 * atom has one own site (wrapped into the periodic cell: its code undoes the wrap) and, near the faces the half stencil
 * reaches through, periodic images (ghost sites) of itself. Row r holds the pairs of the own site rows[r]; entry p is
 * the site index[p], and the pair vector is X_index[p] - X_rows[r]: the pair kernels gather X once per evaluation
 * (O(sites)) and then difference plain coordinates, with no translation lookup per pair, in bin order (sites close in
 * space are close in memory). Ghosts' sums go back to their atom's own site (home[e]); an atom's own image pair {t, -t}
 * (narrow cells) is one entry between its own site and a ghost of itself.
 *
 * The translations are a small table indexed by code (linear in the translation: a strained copy of the list strains
 * the table only, src/checks/derivatives.ts). `pairCode`, when present, gives the translation of a pair between sites
 * a and b: code b - code a + pairCode (built lists; the full list is expanded with it).
 */
export interface HalfNeighbourList {
  readonly atom: Int32Array;
  readonly code: Int32Array;
  /** The atom's own site for every site (home[e] === e for own sites). */
  readonly home: Int32Array;
  /** Row r holds the pairs of the own site rows[r] (rows in bin order: neighbouring atoms are processed together). */
  readonly rows: Int32Array;
  readonly offsets: Int32Array;
  readonly index: Int32Array;
  readonly translations: Float64Array;
  readonly pairCode?: number;
}

/**
 * Whether entry p of atom i's row of a full list is the one a half list keeps of its unordered pair: j > i, and of an
 * atom's own image pair {t, -t}, the one with t lexicographically positive (never the zero shift of i itself).
 */
export function keepsHalfEntry(nl: Pick<NeighbourList, 'index' | 'shift' | 'dim'>, i: number, p: number): boolean {
  const j = nl.index[p];
  if (j !== i) return j > i;
  const d = nl.dim;
  for (let a = 0; a < d; a++) if (nl.shift[p * d + a] !== 0) return nl.shift[p * d + a] > 0;
  return false;
}

/**
 * Site coordinates X (3 per site, z = 0 in 2D) of a half list for positions x: X_e = x_atom[e] + t_code[e]. Written
 * into `out` when it is long enough (kernels keep one buffer), else a new array.
 */
export function siteCoordinates(h: HalfNeighbourList, x: Float64Array, dim: number, out?: Float64Array): Float64Array {
  return gatherSites(h.atom, h.code, h.translations, x, dim, out);
}

function gatherSites(atom: Int32Array, code: Int32Array, tr: Float64Array, x: Float64Array, dim: number, out?: Float64Array): Float64Array {
  const ns = atom.length;
  const X = out && out.length >= 3 * ns ? out : new Float64Array(3 * ns);
  if (dim === 3) {
    for (let e = 0; e < ns; e++) {
      const a = 3 * atom[e];
      const c = 3 * code[e];
      X[3 * e] = x[a] + tr[c];
      X[3 * e + 1] = x[a + 1] + tr[c + 1];
      X[3 * e + 2] = x[a + 2] + tr[c + 2];
    }
  } else {
    for (let e = 0; e < ns; e++) {
      const a = 2 * atom[e];
      const c = 2 * code[e];
      X[3 * e] = x[a] + tr[c];
      X[3 * e + 1] = x[a + 1] + tr[c + 1];
      X[3 * e + 2] = 0;
    }
  }
  return X;
}

export interface NeighbourOptions {
  /** Two atoms closer than this are an error (overlapping atoms); default 1e-6. */
  minDistance?: number;
  /**
   * The interaction cutoff when `cutoff` includes a skin: each row then lists the pairs within `inner` (at build
   * time) before the others, so that a kernel's cutoff test, in order along a row, comes out "yes" then "no" instead
   * of at random (a mispredicted branch per pair cost pass 1 of the EAM a quarter of its time). Order only: the
   * pairs are the same. Default: `cutoff` (no split).
   */
  inner?: number;
}

/**
 * Bins per cutoff length along each cell vector. Bins are numbered with the last axis fastest, so a column of bins
 * along it is contiguous in bin order: the sites of a whole stencil column within reach are one range, scanned in one
 * loop, whatever the bin count along it. Thin bins along the last axis then cost nothing per bin and let each column
 * be trimmed to the bins within reach (binGap2); columns of cutoff/3 fit the cross-section to the sphere. Half stencil
 * scanned per atom: about 5 cutoff^3 (7 with columns of cutoff/2 and 4 bins per cutoff along them, untrimmed; 13.5
 * with bins of one cutoff): a build took 20-25% less time than with [2, 2, 4] in one run.
 */
const DIVISIONS = [3, 3, 9];

/** Translation tables larger than this mean atoms far outside the periodic cell (a GeometryError, not a huge table). */
const MAX_TRANSLATIONS = 1 << 22;

/**
 * Temporaries of a build (bin coordinates, wraps, bin offsets, the bin-ordered coordinates the search reads, ...), kept
 * between builds and grown as needed: fresh multi-megabyte arrays at every build cost page faults (system time, ~15%
 * of a 32,000-atom build in one run). Only what the returned list does not hold; zeroed when the build relies on zeros.
 * Memory stays that of the largest build so far (about 100 bytes per atom: bins, wraps, offsets, ghost-inclusive coordinates).
 */
const scratch = new Map<string, Int32Array | Float64Array>();

function scratchInt32(key: string, length: number, zero: boolean): Int32Array {
  let a = scratch.get(key) as Int32Array | undefined;
  if (a === undefined || a.length < length) {
    a = new Int32Array(Math.ceil(1.1 * length) + 64);
    scratch.set(key, a);
  } else if (zero) a.fill(0, 0, length);
  return a.subarray(0, length);
}

function scratchFloat64(key: string, length: number): Float64Array {
  let a = scratch.get(key) as Float64Array | undefined;
  if (a === undefined || a.length < length) {
    a = new Float64Array(Math.ceil(1.1 * length) + 64);
    scratch.set(key, a);
  }
  return a.subarray(0, length);
}

/** A half list with the full arrays expanded lazily (the form every buildNeighbourList result has). */
class CellNeighbourList implements NeighbourList {
  private full: { offsets: Int32Array; index: Int32Array; shift: Float64Array } | null = null;
  constructor(
    readonly n: number,
    readonly dim: Dim,
    readonly cutoff: number,
    readonly half: HalfNeighbourList,
  ) {}
  get offsets(): Int32Array {
    return (this.full ??= expandHalf(this.half, this.n, this.dim)).offsets;
  }
  get index(): Int32Array {
    return (this.full ??= expandHalf(this.half, this.n, this.dim)).index;
  }
  get shift(): Float64Array {
    return (this.full ??= expandHalf(this.half, this.n, this.dim)).shift;
  }
}

/**
 * Full list from a half list: each entry (own site a of atom i, site b of atom j) with translation t = t_b - t_a
 * (its table entry: code b - code a + pairCode, so the shift is a table value, not a difference of two) becomes
 * (i, j, t) in row i and (j, i, -t) in row j.
 */
function expandHalf(h: HalfNeighbourList, n: number, dim: number): { offsets: Int32Array; index: Int32Array; shift: Float64Array } {
  const { atom, code, rows, offsets: ho, index: hi, translations: tr } = h;
  const base = h.pairCode ?? 0;
  const offsets = new Int32Array(n + 1);
  for (let r = 0; r < n; r++) {
    offsets[atom[rows[r]] + 1] += ho[r + 1] - ho[r];
    for (let p = ho[r]; p < ho[r + 1]; p++) offsets[atom[hi[p]] + 1]++;
  }
  for (let i = 0; i < n; i++) offsets[i + 1] += offsets[i];
  const m = offsets[n];
  const index = new Int32Array(m);
  const shift = new Float64Array(m * dim);
  const fill = offsets.slice(0, n);
  for (let r = 0; r < n; r++) {
    const ra = rows[r];
    const i = atom[ra];
    for (let p = ho[r]; p < ho[r + 1]; p++) {
      const j = atom[hi[p]];
      const c = (code[hi[p]] - code[ra] + base) * dim;
      const a = fill[i]++;
      const b = fill[j]++;
      index[a] = j;
      index[b] = i;
      for (let k = 0; k < dim; k++) {
        shift[a * dim + k] = tr[c + k];
        shift[b * dim + k] = -tr[c + k];
      }
    }
  }
  return { offsets, index, shift };
}

/**
 * Cell-list neighbour search, O(N), producing the half list directly (each unordered pair found once, by a half
 * stencil: the forward neighbour bins and, in an atom's own bin, the atoms after it). Open boundaries: bins of side
 * >= cutoff / DIVISIONS over the bounding box. Periodic: bins in fractional coordinates (each at least cutoff /
 * DIVISIONS wide perpendicular to its faces, or the whole cell when it is narrower), atoms wrapped into the cell, and
 * the bins the stencil reaches beyond the cell filled with ghost sites (periodic images), so the search, like the
 * kernels, sees plain coordinates: every image within the cutoff is found exactly once. Binning is a counting sort;
 * sites are stored in bin order; no per-atom JS objects.
 */
export function buildNeighbourList(s: Structure, cutoff: number, opts: NeighbourOptions = {}): NeighbourList {
  if (!(cutoff > 0) || !Number.isFinite(cutoff)) throw new GeometryError(`neighbour cutoff must be > 0, got ${cutoff}`);
  if (opts.inner !== undefined && !(opts.inner > 0)) throw new GeometryError(`inner neighbour cutoff must be > 0, got ${opts.inner}`);
  assertFinitePositions(s);
  const { dim, positions } = s;
  const n = positions.length / dim;
  const minDist = opts.minDistance ?? 1e-6;
  const cell = s.cell;
  const periodic = cell !== null;

  // Axes live in 3 slots, a 2D structure's two axes in slots 1 and 2 (slot 0 unused, one bin): the last slot is the
  // contiguous column axis of the search (see DIVISIONS).
  const off = 3 - dim;
  const nb = new Int32Array(3).fill(1);
  const m = new Int32Array(3); // bins to scan on each side, per slot
  const bin3 = scratchInt32('bin3', n * 3, true); // bin coordinate of each atom per slot (0 on the unused slot)
  const fl = scratchInt32('fl', periodic ? n * 3 : 0, true); // lattice translations wrapping each atom into the cell, per slot
  const lo = [0, 0, 0];
  const span = [1, 1, 1];
  const A = new Float64Array(9); // cell vectors by slot, 3 Cartesian components each (zeros in 2D)
  const B = new Float64Array(9); // bin edge vectors by slot (the stencil prunes bins by their distance)
  if (periodic) {
    const inv = inverse(cell, dim);
    const widths = perpendicularWidths(cell, dim);
    const reach = (k: number, nbk: number) => Math.ceil((cutoff * nbk) / widths[k] - 1e-12);
    for (let k = 0; k < dim; k++) {
      for (let a = 0; a < dim; a++) A[(k + off) * 3 + a] = cell[k * dim + a];
      nb[k + off] = Math.max(1, Math.min(Math.floor((DIVISIONS[k + off] * widths[k]) / cutoff), 1 << 20));
      m[k + off] = reach(k, nb[k + off]);
    }
    // Cap the bin count near the atom count (a dilute cell would otherwise scan mostly empty bins).
    capBins(nb, m, dim, n, reach);
    for (let sl = off; sl < 3; sl++) for (let a = 0; a < 3; a++) B[sl * 3 + a] = A[sl * 3 + a] / nb[sl];
    const { flMin, flMax } = binPeriodic(positions, n, dim, inv, nb, fl, bin3);
    // Site translations (image - wrap) and pair translations (their differences) both lie in image range +- the
    // spread of the wraps; that range per axis sizes the table.
    let size = 1;
    for (let sl = off; sl < 3; sl++) {
      const imgLo = Math.floor(-m[sl] / nb[sl]);
      const imgHi = Math.floor((nb[sl] - 1 + m[sl]) / nb[sl]);
      lo[sl] = imgLo - (flMax[sl] - flMin[sl]);
      span[sl] = imgHi - imgLo + 2 * (flMax[sl] - flMin[sl]) + 1;
      size *= span[sl];
    }
    if (size > MAX_TRANSLATIONS) {
      throw new GeometryError(
        `atoms lie up to ${Math.max(...flMax.map((v, k) => v - flMin[k]))} cells apart across the periodic boundary: wrap the positions into the cell (the translation table would need ${size} entries)`,
      );
    }
  } else {
    const lo3 = [Infinity, Infinity, Infinity];
    const hi3 = [-Infinity, -Infinity, -Infinity];
    for (let i = 0; i < n; i++)
      for (let k = 0; k < dim; k++) {
        const x = positions[i * dim + k];
        if (x < lo3[k]) lo3[k] = x;
        if (x > hi3[k]) hi3[k] = x;
      }
    const ext = [0, 0, 0];
    const reach = (k: number, nbk: number) => (nbk === 1 ? 0 : Math.ceil((cutoff * nbk) / ext[k] - 1e-12));
    for (let k = 0; k < dim; k++) {
      ext[k] = n > 0 ? hi3[k] - lo3[k] : 0;
      nb[k + off] = Math.max(1, Math.min(Math.floor((DIVISIONS[k + off] * ext[k]) / cutoff), 1 << 20));
      m[k + off] = reach(k, nb[k + off]);
    }
    capBins(nb, m, dim, n, reach);
    for (let k = 0; k < dim; k++) {
      const sl = k + off;
      const w = ext[k] / nb[sl] || 1;
      B[sl * 3 + k] = w;
      for (let i = 0; i < n; i++) bin3[i * 3 + sl] = Math.max(0, Math.min(nb[sl] - 1, Math.floor((positions[i * dim + k] - lo3[k]) / w)));
    }
  }
  // Translation codes: code(t) = sum_slot (t - lo) stride, linear: code(t_b - t_a) = code_b - code_a + code(0).
  const stride = [span[1] * span[2], span[2], 1];
  const nCodes = span[0] * span[1] * span[2];
  const translations = new Float64Array(nCodes * dim);
  for (let c = 0; c < nCodes; c++) {
    const t0 = Math.floor(c / stride[0]) + lo[0];
    const t1 = Math.floor((c % stride[0]) / stride[1]) + lo[1];
    const t2 = (c % stride[1]) + lo[2];
    for (let a = 0; a < dim; a++) translations[c * dim + a] = t0 * A[a] + t1 * A[3 + a] + t2 * A[6 + a];
  }
  const zero = -(lo[0] * stride[0] + lo[1] * stride[1] + lo[2] * stride[2]);

  // The extended bin grid: the cell's bins plus the m bins the half stencil reaches beyond them (forward only along
  // slot 0, both ways along slots 1 and 2); bin (e0, e1, e2), last slot fastest. Periodic: ghost sites fill the
  // extra bins; open: they stay empty, and the search needs no bounds checks either way.
  const ne0 = nb[0] + m[0];
  const ne1 = nb[1] + 2 * m[1];
  const ne2 = nb[2] + 2 * m[2];
  const nbins = ne0 * ne1 * ne2;
  const binStart = scratchInt32('binStart', nbins + 1, true);
  const pad = Int32Array.of(0, m[1], m[2]);
  const { atom, code, home } = placeSites(n, bin3, nb, pad, Int32Array.of(ne0, ne1, ne2), periodic, fl, Int32Array.from(stride), zero, binStart);
  const XYZ = scratchFloat64('XYZ', 3 * atom.length);
  const X = gatherSites(atom, code, translations, positions, dim, XYZ);

  // Half stencil: bin offsets d lexicographically positive in (d0, d1, d2), as columns: every (d0, d1) > 0 with d2
  // over a range, and the own column (0, 0) with d2 from 0 (own bin: the sites after this one); each column trimmed
  // to the bins that can hold a point within the cutoff of a point of the own bin (binGap2: a sphere of bins, not
  // the box of them). As bin ranges relative to the own bin, [from, to).
  const segFrom: number[] = [];
  const segTo: number[] = [];
  const lim = cutoff * cutoff * (1 + 1e-9);
  let ownHi = 0;
  for (let d0 = 0; d0 <= m[0]; d0++)
    for (let d1 = -m[1]; d1 <= m[1]; d1++) {
      if (d0 === 0 && d1 < 0) continue;
      const own = d0 === 0 && d1 === 0;
      let a = own ? 0 : -m[2];
      let z = m[2];
      // the gap is convex in d2 (distance to a translated convex set), so the bins within reach are one interval
      while (a <= z && binGap2(B, d0, d1, a) > lim) a++;
      while (z >= a && binGap2(B, d0, d1, z) > lim) z--;
      if (own) ownHi = z;
      else if (a <= z) {
        const c = (d0 * ne1 + d1) * ne2;
        segFrom.push(c + a);
        segTo.push(c + z + 1);
      }
    }

  const cap = Math.max(1024, Math.ceil(1.05 * expectedHalfPairs(s, n, cutoff)) + 64);
  const half = searchHalf({
    nb,
    pad: [0, m[1], m[2]],
    ne1,
    ne2,
    ownHi,
    segFrom: Int32Array.from(segFrom),
    segTo: Int32Array.from(segTo),
    binStart,
    atom,
    X,
    rc2: cutoff * cutoff,
    minD2: minDist * minDist,
    in2: Math.min(opts.inner ?? cutoff, cutoff) ** 2,
    minDist,
    cap,
    n,
    // two thirds of a cutoff along the column: the union of the two sites' ranges stays about 20% longer than one
    pairGap: Math.max(1, Math.ceil((2 * m[2]) / 3)),
  });
  return new CellNeighbourList(n, dim, cutoff, { atom, code, home, ...half, translations, pairCode: zero });
}

/**
 * Periodic binning: each atom's fractional coordinates, split by one floor into the lattice translation that wraps it
 * into the cell (fl, per slot) and its bin (bin3, per slot); returns the range of the wraps per slot. Its own function
 * (as searchHalf), specialised for 3D: inlined in the set-up it cost ~70 ns per atom, a seventh of a build.
 */
function binPeriodic(
  positions: Float64Array,
  n: number,
  dim: number,
  inv: Float64Array,
  nb: Int32Array,
  fl: Int32Array,
  bin3: Int32Array,
): { flMin: number[]; flMax: number[] } {
  const flMin = [0, 0, 0];
  const flMax = [0, 0, 0];
  const off = 3 - dim;
  const f = [0, 0, 0];
  for (let i = 0; i < n; i++) {
    if (dim === 3) {
      const x = positions[3 * i];
      const y = positions[3 * i + 1];
      const z = positions[3 * i + 2];
      f[0] = x * inv[0] + y * inv[3] + z * inv[6];
      f[1] = x * inv[1] + y * inv[4] + z * inv[7];
      f[2] = x * inv[2] + y * inv[5] + z * inv[8];
    } else {
      const x = positions[2 * i];
      const y = positions[2 * i + 1];
      f[1] = x * inv[0] + y * inv[2];
      f[2] = x * inv[1] + y * inv[3];
    }
    for (let sl = off; sl < 3; sl++) {
      // One floor decides both the bin and the wrap translation (f = -1e-17 must not bin at 0 but wrap to 1).
      let w = Math.floor(f[sl]);
      let fr = f[sl] - w;
      if (fr >= 1) {
        fr = 0;
        w += 1;
      }
      if (!(Math.abs(w) <= 1 << 28)) {
        throw new GeometryError(`atom ${i} lies ${w} cells outside the periodic cell along cell vector ${sl - off}: wrap the positions`, { atom: i });
      }
      fl[i * 3 + sl] = w;
      if (w < flMin[sl]) flMin[sl] = w;
      if (w > flMax[sl]) flMax[sl] = w;
      bin3[i * 3 + sl] = Math.min(nb[sl] - 1, Math.floor(fr * nb[sl]));
    }
  }
  return { flMin, flMax };
}

/**
 * Squared smallest distance between a point of bin 0 and a point of bin d, bins being the parallelepipeds spanned
 * by the edge vectors B (by slot; a zero vector on an unused slot): the minimum of |sum_k t_k B_k|^2 over the box
 * t_k in [d_k - 1, d_k + 1]. Exact: the minimiser is the unconstrained one (t = 0) when the box holds it, else it
 * lies on a facet (the facet's unconstrained minimum, when inside it) or an edge (the 1D minimum, clamped); every
 * candidate is a point of the box, so the least of them is the minimum.
 */
function binGap2(B: Float64Array, d0: number, d1: number, d2: number): number {
  const d = [d0, d1, d2];
  if (d0 >= -1 && d0 <= 1 && d1 >= -1 && d1 <= 1 && d2 >= -1 && d2 <= 1) return 0;
  const G = new Float64Array(9);
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) G[3 * i + j] = B[3 * i] * B[3 * j] + B[3 * i + 1] * B[3 * j + 1] + B[3 * i + 2] * B[3 * j + 2];
  const q = (t: number[]) => {
    let v = 0;
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) v += t[i] * G[3 * i + j] * t[j];
    return Math.max(0, v);
  };
  let best = Infinity;
  const t = [0, 0, 0];
  for (let k = 0; k < 3; k++) {
    const i = (k + 1) % 3;
    const j = (k + 2) % 3;
    // edges: t_i, t_j at bounds, t_k free (clamped minimum)
    for (const ti of [d[i] - 1, d[i] + 1])
      for (const tj of [d[j] - 1, d[j] + 1]) {
        t[i] = ti;
        t[j] = tj;
        const g = G[4 * k];
        const u = g > 0 ? -(G[3 * k + i] * ti + G[3 * k + j] * tj) / g : 0;
        t[k] = Math.min(d[k] + 1, Math.max(d[k] - 1, u));
        best = Math.min(best, q(t));
      }
    // facets: t_k at a bound, t_i and t_j free
    for (const tk of [d[k] - 1, d[k] + 1]) {
      const a = G[4 * i];
      const b = G[3 * i + j];
      const c = G[4 * j];
      const det = a * c - b * b;
      if (!(det > 1e-12 * a * c)) continue;
      const ri = -G[3 * i + k] * tk;
      const rj = -G[3 * j + k] * tk;
      const ui = (c * ri - b * rj) / det;
      const uj = (a * rj - b * ri) / det;
      if (ui < d[i] - 1 || ui > d[i] + 1 || uj < d[j] - 1 || uj > d[j] + 1) continue;
      t[k] = tk;
      t[i] = ui;
      t[j] = uj;
      best = Math.min(best, q(t));
    }
  }
  return best;
}

/**
 * Sites in bin order (counting sort over the extended bin grid): each atom's own site (its wrapped position, in its
 * bin) and, periodic, one ghost per image translation I whose bin b + I nb (+ pad) lies in the extended grid; a
 * site's code is that of I minus the atom's wrap. binStart (zeroed, nbins + 1 long) receives the bin offsets.
 */
function placeSites(
  n: number,
  bin3: Int32Array,
  nb: Int32Array,
  pad: Int32Array,
  ne: Int32Array,
  periodic: boolean,
  fl: Int32Array,
  stride: Int32Array,
  zero: number,
  binStart: Int32Array,
): { atom: Int32Array; code: Int32Array; home: Int32Array } {
  const [nb0, nb1, nb2] = nb;
  const [ne0, ne1, ne2] = ne;
  const [st0, st1, st2] = stride;
  const nbins = ne0 * ne1 * ne2;
  // Own bin of each atom in the extended grid; an atom has ghosts only when its bin is within m bins of a face (then
  // image ranges, per slot, lo = -floor(b / nb) .. hi = floor((ne - 1 - b) / nb), b the padded bin coordinate).
  const own = scratchInt32('own', n, false);
  const edge = scratchInt32('edge', n, true);
  const e1lo = pad[1];
  const e2lo = pad[2];
  // interior: ne - nb <= e < nb on every slot (lo = hi = 0)
  const in0 = ne0 - nb0;
  const in1 = ne1 - nb1;
  const in2 = ne2 - nb2;
  let nSites = 0;
  for (let i = 0; i < n; i++) {
    const e0 = bin3[3 * i];
    const e1 = bin3[3 * i + 1] + e1lo;
    const e2 = bin3[3 * i + 2] + e2lo;
    const b = (e0 * ne1 + e1) * ne2 + e2;
    own[i] = b;
    if (!periodic || (e0 >= in0 && e0 < nb0 && e1 >= in1 && e1 < nb1 && e2 >= in2 && e2 < nb2)) {
      // interior (or open boundaries): the own site only
      binStart[b + 1]++;
      nSites++;
      continue;
    }
    edge[i] = 1;
    const l0 = -Math.floor(e0 / nb0);
    const h0 = Math.floor((ne0 - 1 - e0) / nb0);
    const l1 = -Math.floor(e1 / nb1);
    const h1 = Math.floor((ne1 - 1 - e1) / nb1);
    const l2 = -Math.floor(e2 / nb2);
    const h2 = Math.floor((ne2 - 1 - e2) / nb2);
    for (let I0 = l0; I0 <= h0; I0++)
      for (let I1 = l1; I1 <= h1; I1++) {
        const row = ((e0 + I0 * nb0) * ne1 + e1 + I1 * nb1) * ne2 + e2 + 1;
        for (let I2 = l2; I2 <= h2; I2++) binStart[row + I2 * nb2]++;
      }
    nSites += (h0 - l0 + 1) * (h1 - l1 + 1) * (h2 - l2 + 1);
  }
  for (let b = 0; b < nbins; b++) binStart[b + 1] += binStart[b];
  const atom = new Int32Array(nSites);
  const code = new Int32Array(nSites);
  const home = new Int32Array(nSites);
  const fill = scratchInt32('fill', nbins, false);
  fill.set(binStart.subarray(0, nbins));
  for (let i = 0; i < n; i++) {
    // code of the wrap alone (the own site), then each image adds I . stride
    const cw = periodic ? zero - (fl[3 * i] * st0 + fl[3 * i + 1] * st1 + fl[3 * i + 2] * st2) : 0;
    const b = own[i];
    const self = fill[b];
    if (edge[i] === 0) {
      fill[b]++;
      atom[self] = i;
      code[self] = cw;
      home[self] = self;
      continue;
    }
    const e0 = bin3[3 * i];
    const e1 = bin3[3 * i + 1] + e1lo;
    const e2 = bin3[3 * i + 2] + e2lo;
    const l0 = -Math.floor(e0 / nb0);
    const h0 = Math.floor((ne0 - 1 - e0) / nb0);
    const l1 = -Math.floor(e1 / nb1);
    const h1 = Math.floor((ne1 - 1 - e1) / nb1);
    const l2 = -Math.floor(e2 / nb2);
    const h2 = Math.floor((ne2 - 1 - e2) / nb2);
    for (let I0 = l0; I0 <= h0; I0++)
      for (let I1 = l1; I1 <= h1; I1++) {
        const row = ((e0 + I0 * nb0) * ne1 + e1 + I1 * nb1) * ne2 + e2;
        const c01 = cw + I0 * st0 + I1 * st1;
        for (let I2 = l2; I2 <= h2; I2++) {
          const e = fill[row + I2 * nb2]++;
          atom[e] = i;
          code[e] = c01 + I2 * st2;
          home[e] = self;
        }
      }
  }
  return { atom, code, home };
}

interface SearchInput {
  nb: Int32Array;
  pad: number[];
  ne1: number;
  ne2: number;
  ownHi: number;
  segFrom: Int32Array;
  segTo: Int32Array;
  binStart: Int32Array;
  atom: Int32Array;
  X: Float64Array;
  rc2: number;
  minD2: number;
  in2: number;
  minDist: number;
  cap: number;
  n: number;
  /** Two consecutive sites of a column are searched together when their bins are at most this many apart. */
  pairGap: number;
}

/**
 * The pair search proper (its own function, so the JIT optimises it as a whole rather than by on-stack replacement
 * inside the set-up code). Own column by own column of the cell's bins, the sites in bin order, two at a time: each
 * site (one row) is checked against the sites after it in its own column up to ownHi bins ahead (one contiguous
 * range) and against every site of the other stencil columns (one contiguous range each, ghosts included).
 *
 * Why two at a time: the ranges are short (a few sites each, about 24 per site), and the end of each range is a
 * mispredicted branch; consecutive sites of a column (bins at most pairGap apart) share one scan of the union of their
 * ranges, each with its own cutoff test, which halves the range ends for some 20% more candidates (a build of 32,000 Cu
 * atoms at cutoff + 1 A took 8-15% less time than one site at a time, in paired runs). The union adds only sites out of
 * reach of the other site's bin (each column's range is the bins within reach, an interval), so it finds no other pair;
 * and a column is in the half stencil for both sites, so no pair is found twice. The second site's pairs are collected
 * aside and written after the first site's row. The four scan loops (own column and stencil columns, one site and
 * two) are written out: a helper would have to hand back its counters, in the loops where that costs.
 */
function searchHalf(inp: SearchInput): { rows: Int32Array; offsets: Int32Array; index: Int32Array } {
  const { nb, pad, ne1, ne2, ownHi, segFrom, segTo, binStart, atom, X, rc2, minD2, in2, minDist, n, pairGap } = inp;
  const ncols = segFrom.length;
  const rows = new Int32Array(n);
  const offsets = new Int32Array(n + 1);
  let cap = inp.cap;
  let idx = new Int32Array(cap);
  // pairs beyond `inner` of the first site (appended after the ones within it), and both kinds of the second site's
  let farA = new Int32Array(1024);
  let inB = new Int32Array(1024);
  let farB = new Int32Array(1024);
  let np = 0;
  let r = 0;
  for (let b0 = 0; b0 < nb[0]; b0++)
    for (let b1 = 0; b1 < nb[1]; b1++) {
      const ebLo = (b0 * ne1 + b1 + pad[1]) * ne2 + pad[2];
      const pEnd = binStart[ebLo + nb[2]];
      let p = binStart[ebLo];
      let eb = ebLo;
      while (p < pEnd) {
        while (binStart[eb + 1] <= p) eb++;
        const p2 = p + 1;
        let eb2 = eb;
        if (p2 < pEnd) while (binStart[eb2 + 1] <= p2) eb2++;
        const pair = p2 < pEnd && eb2 - eb <= pairGap;
        if (!pair) eb2 = eb;
        const ownTo = binStart[eb2 + ownHi + 1];
        let most = ownTo - p;
        for (let c = 0; c < ncols; c++) most += binStart[eb2 + segTo[c]] - binStart[eb + segFrom[c]];
        // Worst case every candidate is a neighbour of both sites: grow before the loops, so they carry no check.
        if (np + 2 * most > cap) {
          cap = Math.max(np + 2 * most, Math.ceil(cap * 1.25), Math.ceil((np / Math.max(r, 1)) * n * 1.05) + 64);
          const ni = new Int32Array(cap);
          ni.set(idx.subarray(0, np));
          idx = ni;
        }
        if (farA.length < most) {
          farA = new Int32Array(2 * most);
          inB = new Int32Array(2 * most);
          farB = new Int32Array(2 * most);
        }
        rows[r] = p;
        offsets[r] = np;
        r++;
        let nfa = 0;
        const pa = 3 * (p & 0x0fffffff);
        const xa = X[pa];
        const ya = X[pa + 1];
        const za = X[pa + 2];
        if (!pair) {
          for (let q = p + 1; q < ownTo; q++) {
            const q3 = 3 * (q & 0x0fffffff);
            const dx = X[q3] - xa;
            const dy = X[q3 + 1] - ya;
            const dz = X[q3 + 2] - za;
            const r2 = dx * dx + dy * dy + dz * dz;
            if (r2 > rc2) continue;
            if (r2 < minD2) overlap(atom[p], atom[q], r2, minDist);
            if (r2 < in2) idx[np++] = q;
            else farA[nfa++] = q;
          }
          for (let c = 0; c < ncols; c++) {
            const to = binStart[eb + segTo[c]];
            for (let q = binStart[eb + segFrom[c]]; q < to; q++) {
              const q3 = 3 * (q & 0x0fffffff);
              const dx = X[q3] - xa;
              const dy = X[q3 + 1] - ya;
              const dz = X[q3 + 2] - za;
              const r2 = dx * dx + dy * dy + dz * dz;
              if (r2 > rc2) continue;
              if (r2 < minD2) overlap(atom[p], atom[q], r2, minDist);
              if (r2 < in2) idx[np++] = q;
              else farA[nfa++] = q;
            }
          }
          for (let f = 0; f < nfa; f++) idx[np++] = farA[f];
          p++;
          continue;
        }
        let nib = 0;
        let nfb = 0;
        const pb = 3 * (p2 & 0x0fffffff);
        const xb = X[pb];
        const yb = X[pb + 1];
        const zb = X[pb + 2];
        {
          // the pair of the two sites, from the first
          const dx = xb - xa;
          const dy = yb - ya;
          const dz = zb - za;
          const r2 = dx * dx + dy * dy + dz * dz;
          if (r2 <= rc2) {
            if (r2 < minD2) overlap(atom[p], atom[p2], r2, minDist);
            if (r2 < in2) idx[np++] = p2;
            else farA[nfa++] = p2;
          }
        }
        for (let q = p2 + 1; q < ownTo; q++) {
          const q3 = 3 * (q & 0x0fffffff);
          const x = X[q3];
          const y = X[q3 + 1];
          const z = X[q3 + 2];
          let dx = x - xa;
          let dy = y - ya;
          let dz = z - za;
          let r2 = dx * dx + dy * dy + dz * dz;
          if (r2 <= rc2) {
            if (r2 < minD2) overlap(atom[p], atom[q], r2, minDist);
            if (r2 < in2) idx[np++] = q;
            else farA[nfa++] = q;
          }
          dx = x - xb;
          dy = y - yb;
          dz = z - zb;
          r2 = dx * dx + dy * dy + dz * dz;
          if (r2 <= rc2) {
            if (r2 < minD2) overlap(atom[p2], atom[q], r2, minDist);
            if (r2 < in2) inB[nib++] = q;
            else farB[nfb++] = q;
          }
        }
        for (let c = 0; c < ncols; c++) {
          const to = binStart[eb2 + segTo[c]];
          for (let q = binStart[eb + segFrom[c]]; q < to; q++) {
            const q3 = 3 * (q & 0x0fffffff);
            const x = X[q3];
            const y = X[q3 + 1];
            const z = X[q3 + 2];
            let dx = x - xa;
            let dy = y - ya;
            let dz = z - za;
            let r2 = dx * dx + dy * dy + dz * dz;
            if (r2 <= rc2) {
              if (r2 < minD2) overlap(atom[p], atom[q], r2, minDist);
              if (r2 < in2) idx[np++] = q;
              else farA[nfa++] = q;
            }
            dx = x - xb;
            dy = y - yb;
            dz = z - zb;
            r2 = dx * dx + dy * dy + dz * dz;
            if (r2 <= rc2) {
              if (r2 < minD2) overlap(atom[p2], atom[q], r2, minDist);
              if (r2 < in2) inB[nib++] = q;
              else farB[nfb++] = q;
            }
          }
        }
        for (let f = 0; f < nfa; f++) idx[np++] = farA[f];
        rows[r] = p2;
        offsets[r] = np;
        r++;
        for (let f = 0; f < nib; f++) idx[np++] = inB[f];
        for (let f = 0; f < nfb; f++) idx[np++] = farB[f];
        p += 2;
      }
    }
  offsets[n] = np;
  // A view, not a copy: copying 1e5-atom lists (tens of MB) cost as much as the search; the slack is about 5%.
  return { rows, offsets, index: idx.subarray(0, np) };
}

function overlap(i: number, j: number, r2: number, minDist: number): never {
  throw new GeometryError(`atoms ${Math.min(i, j)} and ${Math.max(i, j)} overlap: distance ${Math.sqrt(r2)} is below ${minDist}`, {
    atoms: [Math.min(i, j), Math.max(i, j)],
    distance: Math.sqrt(r2),
  });
}

/**
 * Shrinks the bin grid until it has at most ~4 bins per atom (bins only get wider, so the stencil still covers the
 * cutoff; `reach(axis, bins)` recomputes how many bins each side that takes). Axes are in slots 3 - dim .. 2.
 */
function capBins(nb: Int32Array, m: Int32Array, dim: number, n: number, reach: (k: number, nbk: number) => number): void {
  const limit = 4 * n + 64;
  const off = 3 - dim;
  for (let guard = 0; guard < 64 && nb[0] * nb[1] * nb[2] > limit; guard++) {
    const f = Math.pow((nb[0] * nb[1] * nb[2]) / limit, 1 / dim);
    for (let k = 0; k < dim; k++) {
      nb[k + off] = Math.max(1, Math.floor(nb[k + off] / Math.max(f, 1.01)));
      m[k + off] = reach(k, nb[k + off]);
    }
  }
}

/** Pairs a uniform density would give (a capacity guess; 8 per atom when the volume is unknown). */
function expectedHalfPairs(s: Structure, n: number, cutoff: number): number {
  if (!s.cell) return 8 * n;
  const vol = Math.abs(cellVolume(s.cell, s.dim));
  if (!(vol > 0)) return 8 * n;
  const ball = s.dim === 3 ? (4 / 3) * Math.PI * cutoff ** 3 : Math.PI * cutoff ** 2;
  return 0.5 * n * (n / vol) * ball + n;
}

/** Brute-force O(N^2 * images) neighbour search; the reference that properties compare the cell list against. */
export function bruteForceNeighbours(s: Structure, cutoff: number): Array<Array<{ j: number; r: number[] }>> {
  const { dim, positions, cell } = s;
  const n = positions.length / dim;
  const out: Array<Array<{ j: number; r: number[] }>> = [];
  let range = [0, 0, 0];
  if (cell) {
    const w = perpendicularWidths(cell, dim);
    range = [0, 1, 2].map((k) => (k < dim ? Math.ceil(cutoff / w[k]) + 1 : 0));
  }
  for (let i = 0; i < n; i++) {
    const list: Array<{ j: number; r: number[] }> = [];
    for (let j = 0; j < n; j++)
      for (let a = -range[0]; a <= range[0]; a++)
        for (let b = -range[1]; b <= range[1]; b++)
          for (let c = -range[2]; c <= range[2]; c++) {
            if (i === j && a === 0 && b === 0 && c === 0) continue;
            const r: number[] = [];
            let r2 = 0;
            for (let x = 0; x < dim; x++) {
              let t = positions[j * dim + x] - positions[i * dim + x];
              if (cell) t += a * cell[x] + b * cell[dim + x] + (dim === 3 ? c * cell[2 * dim + x] : 0);
              r.push(t);
              r2 += t * t;
            }
            if (r2 <= cutoff * cutoff) list.push({ j, r });
          }
    out.push(list);
  }
  return out;
}

/**
 * Reuses a neighbour list while no atom has moved more than skin/2 since it was built (then no pair can have entered
 * the interaction cutoff unseen). The potential filters pairs by its own cutoff.
 */
export class NeighbourCache {
  private list: NeighbourList | null = null;
  private ref: Float64Array | null = null;
  private refCell: Float64Array | null = null;
  builds = 0;
  constructor(
    readonly cutoff: number,
    readonly skin: number = 0.3 * cutoff,
    readonly opts: NeighbourOptions = {},
  ) {}
  get(s: Structure): NeighbourList {
    if (this.list && this.ref && this.ref.length === s.positions.length && sameCell(this.refCell, s.cell)) {
      const lim = (this.skin / 2) ** 2;
      let ok = true;
      const { dim, positions } = s;
      for (let i = 0; i < positions.length && ok; i += dim) {
        let d2 = 0;
        for (let a = 0; a < dim; a++) d2 += (positions[i + a] - this.ref[i + a]) ** 2;
        if (!(d2 <= lim)) ok = false;
      }
      if (ok) return this.list;
    }
    this.list = buildNeighbourList(s, this.cutoff + this.skin, { inner: this.cutoff, ...this.opts });
    this.ref = s.positions.slice();
    this.refCell = s.cell ? s.cell.slice() : null;
    this.builds++;
    return this.list;
  }
}

function sameCell(a: Float64Array | null, b: Float64Array | null): boolean {
  if (a === null || b === null) return a === b;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
