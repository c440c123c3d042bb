import { atomCount, inverse, type Structure } from '../../lattice/structure.ts';
import type { EvalResult } from '../../potentials/types.ts';
import { EngineError } from '../errors.ts';
import type { ForceReply, WireFrame } from './protocol.ts';
import { energyFromAtomic, forceFromAtomic, lengthToAtomic, type UnitSystem } from './units.ts';

/**
 * Putting our structures on the i-PI wire and taking the answers back.
 *
 * - i-PI is 3D and always periodic. A 2D structure is embedded in the plane z = 0 with a third cell vector
 *   (0, 0, Lz) of pure vacuum; an open-boundary (cluster) structure gets a box that leaves a vacuum gap between the
 *   atoms and their periodic images. The gap is `vacuum` (default 3 x cutoff): images are then further apart than
 *   the engine's cutoff, so the engine sees exactly the open-boundary or planar problem. Forces in z are dropped and
 *   the virial is cut to its in-plane block; for any engine with the mirror symmetry z -> -z the z forces of a
 *   planar configuration vanish exactly anyway.
 * - Periodic cells are rotated into the orientation i-PI itself uses (a along x, b in the xy plane, c with positive
 *   z: the wire matrix h is upper triangular), because LAMMPS `fix ipi` reads only the upper triangle of h (its
 *   box lengths and tilt factors xy, xz, yz) and would silently misread any other orientation. The rotation (a
 *   reflection too, for a left-handed cell) is undone on forces and virial, so callers never see it. Consequence for
 *   verification: rotating a periodic structure cannot reveal an engine's rotational non-invariance through this
 *   wire; rotations of open-boundary structures still do (those are sent as they are, up to a translation).
 */
export interface EmbedOptions {
  /** The engine's interaction cutoff (engine length units); sets the default vacuum. */
  cutoff: number;
  /** Vacuum gap between periodic images of an open or planar structure (engine length units). */
  vacuum?: number;
  /** 2D structures: embed them (default) or refuse with an EngineError. */
  planar?: 'embed' | 'refuse';
}

export interface Embedded {
  readonly frame: WireFrame;
  /** Orthogonal map from our Cartesian frame to the wire's: x_wire = R x (rows of R are the wire axes). */
  readonly rotation: Float64Array;
  readonly dim: 2 | 3;
  readonly n: number;
}

export function embed(s: Structure, units: UnitSystem, opts: EmbedOptions): Embedded {
  const { dim } = s;
  const n = atomCount(s);
  if (dim === 2 && opts.planar === 'refuse') {
    throw new EngineError('unsupported', 'this engine was configured to refuse 2D structures (i-PI is 3D); use planar embedding to run it');
  }
  const gap = opts.vacuum ?? 3 * opts.cutoff;
  if (!(gap > 0) || !Number.isFinite(gap)) throw new EngineError('config', `vacuum gap must be > 0, got ${gap}`);
  // 3D positions in our frame.
  const x = new Float64Array(3 * n);
  for (let i = 0; i < n; i++) for (let a = 0; a < dim; a++) x[3 * i + a] = s.positions[i * dim + a];
  // Cell rows in our frame; open directions get a vacuum box and the atoms are centred in it.
  const cell = new Float64Array(9);
  const R = Float64Array.of(1, 0, 0, 0, 1, 0, 0, 0, 1);
  if (s.cell) {
    for (let k = 0; k < dim; k++) for (let a = 0; a < dim; a++) cell[3 * k + a] = s.cell[k * dim + a];
    if (dim === 2) cell[8] = gap;
    canonicalRotation(cell, R);
  } else {
    const lo = [Infinity, Infinity, Infinity];
    const hi = [-Infinity, -Infinity, -Infinity];
    for (let i = 0; i < n; i++)
      for (let a = 0; a < 3; a++) {
        lo[a] = Math.min(lo[a], x[3 * i + a]);
        hi[a] = Math.max(hi[a], x[3 * i + a]);
      }
    for (let a = 0; a < 3; a++) {
      const ext = n > 0 ? hi[a] - lo[a] : 0;
      cell[4 * a] = ext + gap;
      const c = n > 0 ? (hi[a] + lo[a]) / 2 : 0;
      for (let i = 0; i < n; i++) x[3 * i + a] -= c;
    }
  }
  // Rotate cell and positions into the wire frame and convert to Bohr.
  const cw = new Float64Array(9); // rows = rotated cell vectors
  for (let k = 0; k < 3; k++) for (let i = 0; i < 3; i++) cw[3 * k + i] = dot3(R, i, cell, k);
  if (s.cell) {
    // exact zeros where the canonical form has them (rounding leaves ~1e-17 otherwise)
    cw[1] = cw[2] = cw[5] = 0;
  }
  const h = new Float64Array(9); // h[3i + j] = component i of vector j
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) h[3 * i + j] = lengthToAtomic(cw[3 * j + i], units);
  const ih = inverse(h, 3);
  const pos = new Float64Array(3 * n);
  for (let p = 0; p < n; p++)
    for (let i = 0; i < 3; i++) {
      let t = 0;
      for (let a = 0; a < 3; a++) t += R[3 * i + a] * x[3 * p + a];
      pos[3 * p + i] = lengthToAtomic(t, units);
    }
  return { frame: { cellH: h, cellIH: ih, positions: pos }, rotation: R, dim, n };
}

function dot3(R: Float64Array, row: number, cell: Float64Array, k: number): number {
  return R[3 * row] * cell[3 * k] + R[3 * row + 1] * cell[3 * k + 1] + R[3 * row + 2] * cell[3 * k + 2];
}

/** Rows of R := the orthonormal frame e1 || a, e2 in span(a, b), e3 with c . e3 > 0 (Gram-Schmidt on the cell rows). */
function canonicalRotation(cell: Float64Array, R: Float64Array): void {
  const a = cell.subarray(0, 3);
  const b = cell.subarray(3, 6);
  const c = cell.subarray(6, 9);
  const na = Math.hypot(a[0], a[1], a[2]);
  const e1 = [a[0] / na, a[1] / na, a[2] / na];
  const bd = b[0] * e1[0] + b[1] * e1[1] + b[2] * e1[2];
  const u = [b[0] - bd * e1[0], b[1] - bd * e1[1], b[2] - bd * e1[2]];
  const nu = Math.hypot(u[0], u[1], u[2]);
  if (!(na > 0) || !(nu > 0)) throw new EngineError('unsupported', 'degenerate cell: the first two cell vectors are parallel or zero');
  const e2 = [u[0] / nu, u[1] / nu, u[2] / nu];
  let e3 = [e1[1] * e2[2] - e1[2] * e2[1], e1[2] * e2[0] - e1[0] * e2[2], e1[0] * e2[1] - e1[1] * e2[0]];
  if (c[0] * e3[0] + c[1] * e3[1] + c[2] * e3[2] < 0) e3 = e3.map((v) => -v);
  R.set([...e1, ...e2, ...e3]);
}

/**
 * The 3x3 virial from its 9 wire numbers. Clients disagree on layout: ASE and i-PI send a full symmetric matrix,
 * LAMMPS `fix ipi` fills only xx, yy, zz, xy, xz, yz (wire 0, 4, 8, 1, 2, 5) and leaves the lower triangle zero. A
 * virial of a rotation-invariant energy is symmetric, so: lower triangle exactly zero -> mirror the upper one;
 * otherwise take the symmetric part (which also makes a transposed full matrix harmless).
 */
export function virialFromWire(v: Float64Array): Float64Array {
  const w = new Float64Array(9);
  const lowerZero = v[3] === 0 && v[6] === 0 && v[7] === 0;
  for (let i = 0; i < 3; i++)
    for (let j = 0; j < 3; j++) {
      if (i === j) w[3 * i + j] = v[3 * i + j];
      else if (lowerZero) w[3 * i + j] = i < j ? v[3 * i + j] : v[3 * j + i];
      else w[3 * i + j] = (v[3 * i + j] + v[3 * j + i]) / 2;
    }
  return w;
}

/** Forces, virial and energy back in our frame and the engine's units, cut to the structure's dimension. */
export function unembed(reply: ForceReply, e: Embedded, units: UnitSystem): EvalResult {
  const { dim, n, rotation: R } = e;
  if (reply.forces.length !== 3 * n) {
    throw new EngineError('bad-size', `client returned ${reply.forces.length / 3} atoms' forces, expected ${n}`);
  }
  const forces = new Float64Array(n * dim);
  for (let p = 0; p < n; p++)
    for (let a = 0; a < dim; a++) {
      // F = R^T F'
      let t = 0;
      for (let i = 0; i < 3; i++) t += R[3 * i + a] * reply.forces[3 * p + i];
      forces[p * dim + a] = forceFromAtomic(t, units);
    }
  const wp = virialFromWire(reply.virial);
  const virial = new Float64Array(dim * dim);
  for (let a = 0; a < dim; a++)
    for (let b = 0; b < dim; b++) {
      // W = R^T W' R
      let t = 0;
      for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) t += R[3 * i + a] * wp[3 * i + j] * R[3 * j + b];
      virial[a * dim + b] = energyFromAtomic(t, units);
    }
  return { energy: energyFromAtomic(reply.energy, units), forces, virial };
}
