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
 * Each unordered pair within the cutoff once, in CSR rows: entry p of row r (atom i = rows[r]) is atom index[p] with the lattice
 * translation translations[dim * image[p] ..], so r_ij = x_j + t - x_i. A periodic image of an atom itself (narrow
 * cells) appears once for each pair {t, -t}. Translations are a small table indexed by a 4-byte code instead of dim
 * doubles per pair: the list is read at every force evaluation, and 24 bytes per pair was most of its memory.
 */
export interface HalfNeighbourList {
  /** Row r holds the pairs of atom rows[r] (rows in bin order: neighbouring atoms are processed together). */
  readonly rows: Int32Array;
  readonly offsets: Int32Array;
  readonly index: Int32Array;
  readonly image: Int32Array;
  readonly translations: Float64Array;
}

export interface NeighbourOptions {
  /** Two atoms closer than this are an error (overlapping atoms); default 1e-6. */
  minDistance?: number;
}

/**
 * Bins per cutoff length along each cell vector. Bins are numbered with the last axis fastest, so a column of bins
 * along it is contiguous in bin order: the atoms of a whole stencil column within reach are one range, scanned in one
 * loop, whatever the bin count along it. Thin bins along the last axis then cost nothing per bin and trim the scanned
 * column to within 1/4 cutoff of the reach; columns of cutoff/2 trim the cross-section. Half stencil scanned per atom:
 * about 7 cutoff^3 instead of 13.5 cutoff^3 with bins of one cutoff (half of 3^3): half the distance checks.
 */
const DIVISIONS = [2, 2, 4];

/** Translation tables larger than this mean atoms far outside the periodic cell (a GeometryError, not a huge table). */
const MAX_TRANSLATIONS = 1 << 22;

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

/** Full list from a half list: each entry (i, j, t) becomes (i, j, t) in row i and (j, i, -t) in row j. */
function expandHalf(h: HalfNeighbourList, n: number, dim: number): { offsets: Int32Array; index: Int32Array; shift: Float64Array } {
  const { rows, offsets: ho, index: hi, image, translations: tr } = h;
  const offsets = new Int32Array(n + 1);
  for (let r = 0; r < n; r++) {
    offsets[rows[r] + 1] += ho[r + 1] - ho[r];
    for (let p = ho[r]; p < ho[r + 1]; p++) offsets[hi[p] + 1]++;
  }
  for (let i = 0; i < n; i++) offsets[i + 1] += offsets[i];
  const m = offsets[n];
  const index = new Int32Array(m);
  const shift = new Float64Array(m * dim);
  const fill = offsets.slice(0, n);
  for (let r = 0; r < n; r++) {
    const i = rows[r];
    for (let p = ho[r]; p < ho[r + 1]; p++) {
      const j = hi[p];
      const c = image[p] * dim;
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
 * >= cutoff over the bounding box. Periodic: bins in fractional coordinates, each at least `cutoff` wide perpendicular
 * to its faces (or the whole cell, scanning enough bin images when the cell is narrower than the cutoff), so every
 * image within the cutoff is found exactly once. Binning is a counting sort (no comparison sort); atoms' wrapped
 * coordinates are copied into bin order so the inner loop reads contiguous memory; no per-atom JS objects.
 */
export function buildNeighbourList(s: Structure, cutoff: number, opts: NeighbourOptions = {}): NeighbourList {
  if (!(cutoff > 0) || !Number.isFinite(cutoff)) throw new GeometryError(`neighbour cutoff must be > 0, got ${cutoff}`);
  assertFinitePositions(s);
  const { dim, positions } = s;
  const n = positions.length / dim;
  const minDist = opts.minDistance ?? 1e-6;
  const minD2 = minDist * minDist;
  const rc2 = cutoff * cutoff;
  const cell = s.cell;
  const periodic = cell !== null;
  const three = dim === 3;

  // Axes live in 3 slots, a 2D structure's two axes in slots 1 and 2 (slot 0 unused, one bin): the last slot is the
  // contiguous column axis of the search (see DIVISIONS).
  const off = 3 - dim;
  const nb = new Int32Array(3).fill(1);
  const m = new Int32Array(3); // bins to scan on each side, per slot
  const bin3 = new Int32Array(n * 3); // bin coordinate of each atom per slot (0 on the unused slot)
  const fl = new Int32Array(periodic ? n * 3 : 0); // lattice translations wrapping each atom into the cell, per slot
  const A = new Float64Array(9); // cell vectors by slot, 3 Cartesian components each (zeros in 2D)
  const lo = [0, 0, 0];
  const span = [1, 1, 1];
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
    const flMin = [0, 0, 0];
    const flMax = [0, 0, 0];
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < dim; k++) {
        const sl = k + off;
        let f = 0;
        for (let a = 0; a < dim; a++) f += positions[i * dim + a] * inv[a * dim + k];
        // One floor decides both the bin and the wrap translation (f = -1e-17 must not bin at 0 but wrap to 1).
        let w = Math.floor(f);
        let fr = f - w;
        if (fr >= 1) {
          fr = 0;
          w += 1;
        }
        if (!(Math.abs(w) <= 1 << 28)) {
          throw new GeometryError(`atom ${i} lies ${w} cells outside the periodic cell along cell vector ${k}: wrap the positions`, { atom: i });
        }
        fl[i * 3 + sl] = w;
        if (w < flMin[sl]) flMin[sl] = w;
        if (w > flMax[sl]) flMax[sl] = w;
        bin3[i * 3 + sl] = Math.min(nb[sl] - 1, Math.floor(fr * nb[sl]));
      }
    }
    // Pair translation (integer, in cell vectors) = bin image + wrap_i - wrap_j; its range per axis sizes the table.
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
      for (let i = 0; i < n; i++) bin3[i * 3 + sl] = Math.max(0, Math.min(nb[sl] - 1, Math.floor((positions[i * dim + k] - lo3[k]) / w)));
    }
  }
  // Translation codes: code(t) = sum_slot (t - lo) stride; linear, so code = imageCode + wrapCode_i - wrapCode_j.
  const stride = [span[1] * span[2], span[2], 1];
  const nCodes = span[0] * span[1] * span[2];
  const translations = new Float64Array(nCodes * dim);
  for (let c = 0; c < nCodes; c++) {
    const t0 = Math.floor(c / stride[0]) + lo[0];
    const t1 = Math.floor((c % stride[0]) / stride[1]) + lo[1];
    const t2 = (c % stride[1]) + lo[2];
    for (let a = 0; a < dim; a++) translations[c * dim + a] = t0 * A[a] + t1 * A[3 + a] + t2 * A[6 + a];
  }
  const base = -(lo[0] * stride[0] + lo[1] * stride[1] + lo[2] * stride[2]);

  // Counting sort into bins (last slot fastest); wrapped coordinates and wrap codes in bin order.
  const nbins = nb[0] * nb[1] * nb[2];
  const binStart = new Int32Array(nbins + 1);
  const binOf = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const b = (bin3[i * 3] * nb[1] + bin3[i * 3 + 1]) * nb[2] + bin3[i * 3 + 2];
    binOf[i] = b;
    binStart[b + 1]++;
  }
  for (let b = 0; b < nbins; b++) binStart[b + 1] += binStart[b];
  const order = new Int32Array(n);
  {
    const fill = binStart.slice(0, nbins);
    for (let i = 0; i < n; i++) order[fill[binOf[i]]++] = i;
  }
  const XYZ = new Float64Array(3 * n);
  const W = new Int32Array(n);
  for (let q = 0; q < n; q++) {
    const i = order[q];
    let x = positions[i * dim];
    let y = positions[i * dim + 1];
    let z = three ? positions[i * dim + 2] : 0;
    if (periodic) {
      const w0 = fl[i * 3];
      const w1 = fl[i * 3 + 1];
      const w2 = fl[i * 3 + 2];
      x -= w0 * A[0] + w1 * A[3] + w2 * A[6];
      y -= w0 * A[1] + w1 * A[4] + w2 * A[7];
      z -= w0 * A[2] + w1 * A[5] + w2 * A[8];
      W[q] = w0 * stride[0] + w1 * stride[1] + w2 * stride[2];
    }
    XYZ[3 * q] = x;
    XYZ[3 * q + 1] = y;
    XYZ[3 * q + 2] = z;
  }

  // Half stencil: bin offsets d lexicographically positive in (d0, d1, d2), as columns: every (d0, d1) > 0 with
  // d2 over [-m2, m2], and the own column (0, 0) with d2 over [1, m2]; d = 0 is the own bin (atoms after this one).
  const cols: number[] = [];
  for (let d0 = 0; d0 <= m[0]; d0++) for (let d1 = -m[1]; d1 <= m[1]; d1++) if (d0 > 0 || d1 >= 0) cols.push(d0, d1);
  const stencil = Int32Array.from(cols);

  const cap = Math.max(1024, Math.ceil(1.05 * expectedHalfPairs(s, n, cutoff)) + 64);
  const half = searchHalf({ nb, m, periodic, A, stride, base, stencil, binStart, order, XYZ, W, rc2, minD2, minDist, cap });
  return new CellNeighbourList(n, dim, cutoff, { ...half, rows: order, translations });
}

interface SearchInput {
  nb: Int32Array;
  m: Int32Array;
  periodic: boolean;
  A: Float64Array;
  stride: number[];
  base: number;
  stencil: Int32Array;
  binStart: Int32Array;
  order: Int32Array;
  XYZ: Float64Array;
  W: Int32Array;
  rc2: number;
  minD2: number;
  minDist: number;
  cap: number;
}

/**
 * The pair search proper (its own function, so the JIT optimises it as a whole rather than by on-stack replacement
 * inside the set-up code). Bin by bin: the stencil columns become ranges of bin-ordered atoms (split where a column
 * wraps through the periodic boundary), each with its image translation T (searched as x_j against x_i - T) and
 * translation code, worked out once per bin; then each atom of the bin (one row, in bin order) is checked against the
 * atoms after it in its own bin and every atom of those ranges, reading the bin-ordered wrapped coordinates.
 */
function searchHalf(inp: SearchInput): { offsets: Int32Array; index: Int32Array; image: Int32Array } {
  const { nb, m, periodic, A, stride, base, stencil, binStart, order, XYZ, W, rc2, minD2, minDist } = inp;
  const n = order.length;
  const ncols = stencil.length / 2;
  const offsets = new Int32Array(n + 1);
  let cap = inp.cap;
  let idx = new Int32Array(cap);
  let img = new Int32Array(cap);
  let np = 0;
  const nb0 = nb[0];
  const nb1 = nb[1];
  const nb2 = nb[2];
  const m2 = m[2];
  const st0 = stride[0];
  const st1 = stride[1];
  const st2 = stride[2];
  // Ranges per bin: a column crosses the periodic boundary along axis 2 at most ceil(2 m2 / nb2) + 1 times.
  const maxSeg = ncols * (Math.ceil((2 * m2 + 1) / nb2) + 1);
  const sFrom = new Int32Array(maxSeg);
  const sTo = new Int32Array(maxSeg);
  const sCode = new Int32Array(maxSeg);
  const sT = new Float64Array(3 * maxSeg);
  const nbins = nb0 * nb1 * nb2;
  for (let b = 0; b < nbins; b++) {
    const bStart = binStart[b];
    const bEnd = binStart[b + 1];
    if (bStart === bEnd) continue;
    const b2 = b % nb2;
    const b1 = Math.floor(b / nb2) % nb1;
    const b0 = Math.floor(b / (nb2 * nb1));
    let k = 0;
    let most = bEnd - bStart;
    for (let c = 0; c < ncols; c++) {
      const d0 = stencil[2 * c];
      const d1 = stencil[2 * c + 1];
      let c0 = b0 + d0;
      let c1 = b1 + d1;
      let i0 = 0;
      let i1 = 0;
      if (periodic) {
        if (c0 < 0 || c0 >= nb0) {
          i0 = Math.floor(c0 / nb0);
          c0 -= i0 * nb0;
        }
        if (c1 < 0 || c1 >= nb1) {
          i1 = Math.floor(c1 / nb1);
          c1 -= i1 * nb1;
        }
      } else if (c0 < 0 || c0 >= nb0 || c1 < 0 || c1 >= nb1) continue;
      const col = (c0 * nb1 + c1) * nb2;
      let lo = d0 === 0 && d1 === 0 ? b2 + 1 : b2 - m2;
      let hi = b2 + m2;
      if (!periodic) {
        lo = Math.max(lo, 0);
        hi = Math.min(hi, nb2 - 1);
      }
      if (lo > hi) continue;
      // Pieces of [lo, hi] in successive images along axis 2.
      for (let i2 = Math.floor(lo / nb2); i2 * nb2 <= hi; i2++) {
        const a = Math.max(lo, i2 * nb2) - i2 * nb2;
        const z = Math.min(hi, i2 * nb2 + nb2 - 1) - i2 * nb2;
        const from = binStart[col + a];
        const to = binStart[col + z + 1];
        if (from === to) continue;
        sFrom[k] = from;
        sTo[k] = to;
        most += to - from;
        sCode[k] = i0 * st0 + i1 * st1 + i2 * st2;
        sT[3 * k] = i0 * A[0] + i1 * A[3] + i2 * A[6];
        sT[3 * k + 1] = i0 * A[1] + i1 * A[4] + i2 * A[7];
        sT[3 * k + 2] = i0 * A[2] + i1 * A[5] + i2 * A[8];
        k++;
      }
    }
    for (let p = bStart; p < bEnd; p++) {
      offsets[p] = np;
      // Worst case every candidate is a neighbour: grow before the loops, so they carry no check.
      if (np + most > cap) {
        cap = Math.max(np + most, Math.ceil(cap * 1.25), Math.ceil((np / (p + 1)) * n * 1.05) + 64);
        const ni = new Int32Array(cap);
        ni.set(idx.subarray(0, np));
        idx = ni;
        const nc = new Int32Array(cap);
        nc.set(img.subarray(0, np));
        img = nc;
      }
      const xi = XYZ[3 * p];
      const yi = XYZ[3 * p + 1];
      const zi = XYZ[3 * p + 2];
      const wi = W[p] + base;
      // own bin, no image: the atoms after this one
      for (let q = p + 1; q < bEnd; q++) {
        const dx = XYZ[3 * q] - xi;
        const dy = XYZ[3 * q + 1] - yi;
        const dz = XYZ[3 * q + 2] - zi;
        const r2 = dx * dx + dy * dy + dz * dz;
        if (r2 > rc2) continue;
        if (r2 < minD2) overlap(order[p], order[q], r2, minDist);
        idx[np] = order[q];
        img[np] = wi - W[q];
        np++;
      }
      for (let t = 0; t < k; t++) {
        const qx = xi - sT[3 * t];
        const qy = yi - sT[3 * t + 1];
        const qz = zi - sT[3 * t + 2];
        const code = wi + sCode[t];
        const to = sTo[t];
        for (let q = sFrom[t]; q < to; q++) {
          const dx = XYZ[3 * q] - qx;
          const dy = XYZ[3 * q + 1] - qy;
          const dz = XYZ[3 * q + 2] - qz;
          const r2 = dx * dx + dy * dy + dz * dz;
          if (r2 > rc2) continue;
          if (r2 < minD2) overlap(order[p], order[q], r2, minDist);
          idx[np] = order[q];
          img[np] = code - W[q];
          np++;
        }
      }
    }
  }
  offsets[n] = np;
  // Views, not copies: copying 1e5-atom lists (tens of MB) cost as much as the search; the slack is about 5%.
  return { offsets, index: idx.subarray(0, np), image: img.subarray(0, np) };
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
    this.list = buildNeighbourList(s, this.cutoff + this.skin, this.opts);
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
