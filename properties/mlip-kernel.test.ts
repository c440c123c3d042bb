import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { buildNeighbourList, type NeighbourList } from '../src/lattice/neighbours.ts';
import type { Structure } from '../src/lattice/structure.ts';
import { defaultBasisSpec, type BasisSpec } from '../src/mlip/basis.ts';
import { MLIPKernel, type CompiledFunctions } from '../src/mlip/kernel.ts';
import { BasisEvaluator, LinearMLIP } from '../src/mlip/model.ts';
import { Rng } from '../src/util/rng.ts';
import { ReferenceMLIPKernel } from './mlip-reference-kernel.ts';

/**
 * The half-list kernel of src/mlip/kernel.ts against the pre-rewrite kernel (properties/mlip-reference-kernel.ts: every
 * ordered pair from the full list, per-alpha gradients materialised, validated against finite differences while it was
 * the production kernel). Both compute the same sums in a different order and form (Y_h(e) = H_h(r) / r^l, pairs
 * credited to both ends, per-harmonic folding), so they must agree to round-off, for energies, site energies, forces,
 * virials and Hessian-vector products, of the fitted-model path (one merged polynomial) and of the design-matrix path
 * (every basis function), at the default levels 1-3.
 *
 * Tolerance: each output is a sum over at most ~40 pairs per site of products of a few factors, so the two orders of
 * summation differ by ~(terms) x 1.1e-16 relative to the largest term, and the comparison is relative to the largest
 * entry of the same output block (one function's forces, say). Measured worst cases over 400 generated cases
 * (MLIP_KERNEL_RUNS=400 MLIP_KERNEL_REPORT=1): clusters 5e-15, periodic cells 7e-14, narrow cells 3e-13 (there
 * every atom also sees its own images at +-t, whose forces cancel exactly, so a function's force and virial blocks
 * are 10-100x smaller than its pair terms and the relative round-off larger by as much). TOL is 1e-12, 1e-11 for
 * narrow cells. A real mistake (a wrong sign, parity, factor l or missed pair) changes entries at O(1) relative, as
 * the mirrored-structure case below shows (> 0.1).
 */
const TOL = 1e-12;
const TOL_NARROW = 1e-11;
const CUTOFF = 1.6;

/**
 * Rattled, randomly strained fcc (3D, reps^3 conventional cells, r0 = 1) / triangular (2D, reps^2 primitive cells)
 * periodic cell; narrow cells (3D reps 1, 2D reps 2: width below 2 rc) make an atom a neighbour of its own images.
 * (Not a one-atom cell: there every odd-l atom-base sum cancels exactly in the half-list kernel, leaving the
 * reference's round-off as the whole value, which no relative comparison can judge.)
 */
function cell(dim: 2 | 3, reps: number, rng: Rng, amp: number): Structure {
  const a = Math.SQRT2;
  const basis = dim === 3 ? [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]].map((p) => p.map((c) => c * a)) : [[0, 0]];
  const vecs = dim === 3 ? [[a, 0, 0], [0, a, 0], [0, 0, a]] : [[1, 0], [0.5, Math.sqrt(3) / 2]];
  const pos: number[] = [];
  const idx = dim === 3 ? [0, 1, 2] : [0, 1];
  const ranges = idx.map(() => [...Array(reps).keys()]);
  const cells: number[][] = dim === 3 ? ranges[0].flatMap((i) => ranges[1].flatMap((j) => ranges[2].map((k) => [i, j, k]))) : ranges[0].flatMap((i) => ranges[1].map((j) => [i, j]));
  for (const c of cells) for (const b of basis) for (const q of idx) pos.push(b[q] + c.reduce((t, m, k) => t + m * vecs[k][q], 0));
  const F = Array.from({ length: dim * dim }, (_, q) => (q % (dim + 1) === 0 ? 1 : 0) + 0.03 * rng.normal());
  const map = (x: ArrayLike<number>) => {
    const o = new Float64Array(x.length);
    for (let i = 0; i < x.length; i += dim) for (let p = 0; p < dim; p++) for (let q = 0; q < dim; q++) o[i + p] += F[p * dim + q] * x[i + q];
    return o;
  };
  const x = map(pos);
  for (let i = 0; i < x.length; i++) x[i] += amp * rng.normal();
  return { dim, positions: x, cell: map(vecs.flatMap((v) => v.map((c) => c * reps))) };
}

/** Open cluster: up to `count` points in a ball of radius 1.4, pairwise at least 0.55 apart (rejection sampling). */
function cluster(dim: 2 | 3, count: number, rng: Rng): Structure {
  const pts: number[][] = [[...Array(dim)].map(() => 0)];
  for (let tries = 0; pts.length < count && tries < 5000; tries++) {
    const p = [...Array(dim)].map(() => 2.8 * (rng.uniform() - 0.5));
    if (Math.hypot(...p) > 1.4) continue;
    if (pts.every((q) => Math.hypot(...p.map((v, a) => v - q[a])) >= 0.55)) pts.push(p);
  }
  return { dim, positions: Float64Array.from(pts.flat()), cell: null };
}

/** The same list without its half list (a list made by hand): the kernel must derive the unordered pairs itself. */
function fullOnly(nl: NeighbourList): NeighbourList {
  return { n: nl.n, dim: nl.dim, cutoff: nl.cutoff, offsets: nl.offsets, index: nl.index, shift: nl.shift };
}

/**
 * max |a - b| / scale over each of `blocks` equal blocks (one per function), the worst block; scale = max |b| of the
 * block, or `floor[k]` when larger (forces of a one-atom periodic cell are exactly zero: only round-off is left).
 */
function relErr(a: Float64Array, b: Float64Array, blocks: number, floor?: Float64Array): number {
  const m = b.length / blocks;
  let worst = 0;
  for (let k = 0; k < blocks; k++) {
    let err = 0;
    let scale = floor ? floor[k] : 0;
    for (let i = k * m; i < (k + 1) * m; i++) {
      err = Math.max(err, Math.abs(a[i] - b[i]));
      scale = Math.max(scale, Math.abs(b[i]));
    }
    worst = Math.max(worst, err / (scale + 1e-300));
  }
  return worst;
}

interface Outputs {
  energy: Float64Array;
  siteEnergies: Float64Array;
  forces: Float64Array;
  virial: Float64Array;
  hv: Float64Array;
}

function run(
  k: { evaluate(s: Structure, nl: NeighbourList, f: CompiledFunctions, o: object): void; hessianVector(s: Structure, nl: NeighbourList, f: CompiledFunctions, v: Float64Array, o: Float64Array): void },
  fns: CompiledFunctions,
  s: Structure,
  nl: NeighbourList,
  v: Float64Array,
): Outputs {
  const n = s.positions.length / s.dim;
  const K = fns.K;
  const o = {
    energy: new Float64Array(K),
    siteEnergies: new Float64Array(K * n),
    forces: new Float64Array(K * n * s.dim),
    virial: new Float64Array(K * s.dim * s.dim),
    hv: new Float64Array(K * n * s.dim),
  };
  k.evaluate(s, nl, fns, o);
  k.hessianVector(s, nl, fns, v, o.hv);
  return o;
}

/** The size of one bond's force per function: |W| / (atoms x cutoff) (W is a sum over bonds of force x bond vector). */
function bondForce(virial: Float64Array, K: number, n: number): Float64Array {
  const dd = virial.length / K;
  return Float64Array.from({ length: K }, (_, k) => {
    let w = 0;
    for (let q = 0; q < dd; q++) w = Math.max(w, Math.abs(virial[k * dd + q]));
    return w / (n * CUTOFF);
  });
}

/** Worst relative disagreement over every output; energies are scaled by the sum of |site energies|. */
function disagreement(a: Outputs, b: Outputs, K: number, n: number): number {
  let e = 0;
  for (let k = 0; k < K; k++) {
    let scale = 0;
    for (let i = 0; i < n; i++) scale += Math.abs(b.siteEnergies[k * n + i]);
    e = Math.max(e, Math.abs(a.energy[k] - b.energy[k]) / (scale + 1e-300));
  }
  const bond = bondForce(b.virial, K, n);
  return Math.max(e, relErr(a.siteEnergies, b.siteEnergies, K), relErr(a.forces, b.forces, K, bond), relErr(a.virial, b.virial, K), relErr(a.hv, b.hv, K));
}

const configArb = fc.record({
  seed: fc.integer({ min: 1, max: 1e6 }),
  level: fc.constantFrom(1, 2, 3),
  dim: fc.constantFrom<2 | 3>(3, 3, 3, 2),
  kind: fc.constantFrom('cell-narrow', 'cell', 'cluster', 'cluster-hand-made-list', 'cell-narrow-hand-made-list'),
  envelope: fc.constantFrom('smooth', 'poly'),
});

describe('MLIP kernel: half-list kernel equals the reference (pre-rewrite) kernel to round-off', () => {
  let worst = 0;
  test('energy, site energies, forces, virial and HVP of the model and of every basis function, levels 1-3', () => {
    fc.assert(
      fc.property(configArb, ({ seed, level, dim, kind, envelope }) => {
        const rng = new Rng(seed);
        const spec: BasisSpec = defaultBasisSpec(level, {
          dim,
          cutoff: CUTOFF,
          envelope: envelope === 'smooth' ? { kind: 'smooth', rin: 1.2 } : { kind: 'poly', power: 4 },
        });
        const s =
          kind.startsWith('cell-narrow') ? cell(dim, dim === 3 ? 1 : 2, rng, 0.08) : kind === 'cell' ? cell(dim, dim === 3 ? 3 : 5, rng, 0.08) : cluster(dim, 4 + Math.floor(20 * rng.uniform()), rng);
        const n = s.positions.length / dim;
        // A list with a skin (pairs beyond rc must be skipped) for half the cases.
        const built = buildNeighbourList(s, spec.cutoff * (rng.uniform() < 0.5 ? 1 : 1.3));
        const nl = kind.endsWith('hand-made-list') ? fullOnly(built) : built;
        const ev = new BasisEvaluator(spec);
        const model = new LinearMLIP(spec, Array.from({ length: ev.size }, () => rng.normal()));
        const ref = new ReferenceMLIPKernel(ev.basis);
        const v = Float64Array.from({ length: n * dim }, () => rng.normal());
        // every basis function (design-matrix path)
        const dB = disagreement(run(ev.kernel, ev.functions, s, nl, v), run(ref, ev.functions, s, nl, v), ev.size, n);
        // the model's own path, through its public methods
        const r = model.evaluate(s, nl);
        const want = run(ref, model.merged, s, nl, v);
        const got: Outputs = {
          energy: Float64Array.of(r.energy),
          siteEnergies: r.siteEnergies!,
          forces: r.forces,
          virial: r.virial,
          hv: model.hessianVector(s, nl, v),
        };
        const dM = disagreement(got, want, 1, n);
        worst = Math.max(worst, dB, dM);
        const tol = kind.startsWith('cell-narrow') ? TOL_NARROW : TOL;
        expect(dB).toBeLessThan(tol);
        expect(dM).toBeLessThan(tol);
        // The model's HVP keeps per-configuration data: a second direction at the same x reuses it, atoms moved in
        // place (as a relaxation moves them) must rebuild it.
        const hvRef = (w: Float64Array) => {
          const o = new Float64Array(n * dim);
          ref.hessianVector(s, nl, model.merged, w, o);
          return o;
        };
        const v2 = Float64Array.from({ length: n * dim }, () => rng.normal());
        const check = (e: number) => {
          worst = Math.max(worst, e);
          expect(e).toBeLessThan(tol);
        };
        check(relErr(model.hessianVector(s, nl, v2), hvRef(v2), 1));
        for (let i = 0; i < s.positions.length; i++) s.positions[i] += 1e-3 * rng.normal();
        check(relErr(model.hessianVector(s, nl, v2), hvRef(v2), 1));
        // Above the HVP data limit every product is computed afresh (the path of large configurations).
        const limit = MLIPKernel.HVP_CACHE_LIMIT;
        try {
          MLIPKernel.HVP_CACHE_LIMIT = 0;
          check(relErr(model.hessianVector(s, nl, v), hvRef(v), 1));
        } finally {
          MLIPKernel.HVP_CACHE_LIMIT = limit;
        }
        const fRef = { forces: new Float64Array(n * dim), virial: new Float64Array(dim * dim) };
        ref.evaluate(s, nl, model.merged, fRef);
        const r2 = model.evaluate(s, nl);
        check(relErr(r2.forces, fRef.forces, 1, bondForce(fRef.virial, 1, n)));
        check(relErr(r2.virial, fRef.virial, 1));
        // the comparison is not vacuous: the reference produced non-zero forces and HVP
        expect(want.forces.some((x) => x !== 0) || n === 1).toBe(true);
      }),
      { numRuns: Number(process.env.MLIP_KERNEL_RUNS ?? 16) },
    );
    if (process.env.MLIP_KERNEL_REPORT === '1') console.log(`worst relative disagreement ${worst.toExponential(2)}`);
  });

  test('the comparison can fail: the forces of the mirrored structure differ from the original far above the tolerance', () => {
    // Mirroring x -> -x leaves every basis energy unchanged (power spectrum, radial sums) but flips the x components of
    // the forces: the disagreement measure must see it (O(1), not round-off), or the property above proves nothing.
    const spec = defaultBasisSpec(2, { dim: 3, cutoff: 1.6, rin: 1.2 });
    const rng = new Rng(5);
    const s = cell(3, 3, rng, 0.08);
    const mirror: Structure = { ...s, positions: s.positions.map((x, i) => (i % 3 === 0 ? -x : x)), cell: s.cell!.map((x, i) => (i % 3 === 0 ? -x : x)) };
    const ev = new BasisEvaluator(spec);
    const n = s.positions.length / 3;
    const v = Float64Array.from({ length: 3 * n }, () => rng.normal());
    const a = run(ev.kernel, ev.functions, mirror, buildNeighbourList(mirror, 1.6), v);
    const b = run(new ReferenceMLIPKernel(ev.basis), ev.functions, s, buildNeighbourList(s, 1.6), v);
    expect(relErr(a.forces, b.forces, ev.size)).toBeGreaterThan(0.1);
  });
});
