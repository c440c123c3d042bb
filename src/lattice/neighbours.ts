import { GeometryError } from '../util/errors.ts';
import { assertFinitePositions, inverse, perpendicularWidths, type Dim, type Structure } from './structure.ts';

/**
 * Full neighbour list in CSR form: the neighbours of atom i are index[offsets[i] .. offsets[i+1]), and the pair
 * vector is r_ij = x_j + shift_ij - x_i, where shift_ij (dim components) is the periodic image translation (zero for
 * open boundaries). Built with `cutoff` = interaction cutoff + skin, so it can be reused while atoms move less than
 * skin / 2 (see NeighbourCache).
 */
export interface NeighbourList {
  readonly n: number;
  readonly dim: Dim;
  readonly cutoff: number;
  readonly offsets: Int32Array;
  readonly index: Int32Array;
  readonly shift: Float64Array;
}

export interface NeighbourOptions {
  /** Two atoms closer than this are an error (overlapping atoms); default 1e-6. */
  minDistance?: number;
}

/**
 * Cell-list neighbour search, O(N). Open boundaries: bins of side >= cutoff over the bounding box. Periodic: bins in
 * fractional coordinates, each at least `cutoff` wide perpendicular to its faces (or the whole cell, scanning enough
 * bin images when the cell is narrower than the cutoff), so every image within the cutoff is found exactly once.
 */
export function buildNeighbourList(s: Structure, cutoff: number, opts: NeighbourOptions = {}): NeighbourList {
  if (!(cutoff > 0) || !Number.isFinite(cutoff)) throw new GeometryError(`neighbour cutoff must be > 0, got ${cutoff}`);
  assertFinitePositions(s);
  const { dim, positions } = s;
  const n = positions.length / dim;
  const minDist = opts.minDistance ?? 1e-6;
  const rc2 = cutoff * cutoff;

  // Fractional-like coordinates u in [0, nb_k) per axis, bin index by floor(u).
  const nb = new Int32Array(3).fill(1);
  const m = new Int32Array(3).fill(0); // bin images to scan on each side
  const u = new Float64Array(n * dim);
  const wrapCount = new Float64Array(n * dim);
  let inv: Float64Array | null = null;
  const cell = s.cell;
  if (cell) {
    inv = inverse(cell, dim);
    const widths = perpendicularWidths(cell, dim);
    for (let k = 0; k < dim; k++) {
      nb[k] = Math.max(1, Math.floor(widths[k] / cutoff));
      m[k] = Math.ceil((cutoff * nb[k]) / widths[k] - 1e-12);
    }
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < dim; k++) {
        let f = 0;
        for (let a = 0; a < dim; a++) f += positions[i * dim + a] * inv[a * dim + k];
        // One floor decides both the bin and the wrap translation (f = -1e-17 must not bin at 0 but wrap to 1).
        let fl = Math.floor(f);
        let fr = f - fl;
        if (fr >= 1) {
          fr = 0;
          fl += 1;
        }
        u[i * dim + k] = fr * nb[k];
        wrapCount[i * dim + k] = fl;
      }
    }
  } else {
    const lo = new Float64Array(dim).fill(Infinity);
    const hi = new Float64Array(dim).fill(-Infinity);
    for (let i = 0; i < n; i++)
      for (let k = 0; k < dim; k++) {
        const x = positions[i * dim + k];
        if (x < lo[k]) lo[k] = x;
        if (x > hi[k]) hi[k] = x;
      }
    for (let k = 0; k < dim; k++) {
      const ext = n > 0 ? hi[k] - lo[k] : 0;
      nb[k] = Math.max(1, Math.min(Math.floor(ext / cutoff), 1 << 20));
      m[k] = 1;
      const w = ext / nb[k] || 1;
      for (let i = 0; i < n; i++) {
        let b = (positions[i * dim + k] - lo[k]) / w;
        if (b >= nb[k]) b = nb[k] - 1e-9;
        u[i * dim + k] = b;
      }
    }
  }
  // Translation taking each atom's raw position into the cell (zero when open); pairs are searched on wrapped
  // positions and the stored shift converts back to raw positions.
  const wt = new Float64Array(n * dim);
  if (cell) {
    for (let i = 0; i < n; i++)
      for (let k = 0; k < dim; k++) {
        const fl = wrapCount[i * dim + k];
        for (let a = 0; a < dim; a++) wt[i * dim + a] -= fl * cell[k * dim + a];
      }
  }
  const wp = new Float64Array(n * dim);
  for (let i = 0; i < n * dim; i++) wp[i] = positions[i] + wt[i];
  const nbins = nb[0] * nb[1] * (dim === 3 ? nb[2] : 1);
  const binOf = new Int32Array(n);
  const binCount = new Int32Array(nbins + 1);
  for (let i = 0; i < n; i++) {
    let b = 0;
    for (let k = dim - 1; k >= 0; k--) b = b * nb[k] + Math.min(nb[k] - 1, Math.floor(u[i * dim + k]));
    binOf[i] = b;
    binCount[b + 1]++;
  }
  for (let b = 0; b < nbins; b++) binCount[b + 1] += binCount[b];
  const binAtoms = new Int32Array(n);
  const fill = binCount.slice(0, nbins);
  for (let i = 0; i < n; i++) binAtoms[fill[binOf[i]]++] = i;
  // Wrapped positions in bin order, one array per component, for the contiguous inner loop.
  const three = dim === 3;
  const bx = new Float64Array(n);
  const by = new Float64Array(n);
  const bz = new Float64Array(three ? n : 0);
  for (let p = 0; p < n; p++) {
    const j = binAtoms[p];
    bx[p] = wp[j * dim];
    by[p] = wp[j * dim + 1];
    if (three) bz[p] = wp[j * dim + 2];
  }

  const offsets = new Int32Array(n + 1);
  // Output arrays grown by extrapolating the pairs-per-atom seen so far (about one reallocation for a homogeneous
  // system, instead of log2(pairs) doublings of tens of MB).
  let cap = Math.max(1024, n * 8);
  let idx = new Int32Array(cap);
  let shf = new Float64Array(cap * dim);
  let np = 0;
  const bc = new Int32Array(3);
  const img = new Int32Array(3);
  const sv = new Float64Array(3);
  const d3 = new Int32Array(3);
  const periodic = cell !== null;
  const mz = dim === 3 ? m[2] : 0;
  for (let i = 0; i < n; i++) {
    offsets[i] = np;
    let b = binOf[i];
    for (let k = 0; k < dim; k++) {
      bc[k] = b % nb[k];
      b = Math.floor(b / nb[k]);
    }
    for (let dz = -mz; dz <= mz; dz++)
      for (let dy = -m[1]; dy <= m[1]; dy++)
        for (let dx = -m[0]; dx <= m[0]; dx++) {
          d3[0] = dx;
          d3[1] = dy;
          d3[2] = dz;
          let bin = 0;
          let skip = false;
          for (let k = dim - 1; k >= 0; k--) {
            let c = bc[k] + d3[k];
            img[k] = 0;
            if (periodic) {
              img[k] = Math.floor(c / nb[k]);
              c -= img[k] * nb[k];
            } else if (c < 0 || c >= nb[k]) {
              skip = true;
              break;
            }
            bin = bin * nb[k] + c;
          }
          if (skip) continue;
          // Image translation: img . cell (rows are cell vectors).
          for (let a = 0; a < dim; a++) {
            let t = 0;
            if (periodic) for (let k = 0; k < dim; k++) t += img[k] * cell![k * dim + a];
            sv[a] = t;
          }
          const xi0 = wp[i * dim];
          const xi1 = wp[i * dim + 1];
          const xi2 = three ? wp[i * dim + 2] : 0;
          const s0 = sv[0];
          const s1 = sv[1];
          const s2 = sv[2];
          for (let p = binCount[bin]; p < binCount[bin + 1]; p++) {
            // Same arithmetic as (x_j + s) - x_i per component, on bin-ordered copies (contiguous reads).
            const dx0 = bx[p] + s0 - xi0;
            const dx1 = by[p] + s1 - xi1;
            const dx2 = three ? bz[p] + s2 - xi2 : 0;
            const r2 = dx0 * dx0 + dx1 * dx1 + dx2 * dx2;
            if (r2 > rc2) continue;
            const j = binAtoms[p];
            if (j === i && (!periodic || (img[0] === 0 && img[1] === 0 && img[2] === 0))) continue;
            if (r2 < minDist * minDist) {
              throw new GeometryError(
                `atoms ${Math.min(i, j)} and ${Math.max(i, j)} overlap: distance ${Math.sqrt(r2)} is below ${minDist}`,
                { atoms: [i, j], distance: Math.sqrt(r2) },
              );
            }
            if (np === cap) {
              cap = Math.max(cap + 1024, Math.ceil(((np / (i + 1)) * n + 64) * 1.1));
              const i2 = new Int32Array(cap);
              i2.set(idx);
              idx = i2;
              const s2 = new Float64Array(cap * dim);
              s2.set(shf);
              shf = s2;
            }
            idx[np] = j;
            for (let a = 0; a < dim; a++) shf[np * dim + a] = sv[a] + wt[j * dim + a] - wt[i * dim + a];
            np++;
          }
        }
  }
  offsets[n] = np;

  return {
    n,
    dim,
    cutoff,
    offsets,
    // Views, not copies: copying 1e5-atom lists (tens of MB) cost as much as the search; the slack is <= 10%.
    index: idx.subarray(0, np),
    shift: shf.subarray(0, np * dim),
  };
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
