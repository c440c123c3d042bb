/**
 * The worst-case (identifiability) study, docs/theory.md "P4/P5, sharp form": W = max ||D J n|| over
 * n^T (A^T A / tau^2 + S) n <= 1. Generated checks of its three pieces and of the study's shape:
 * - the generalised eigenproblem against a brute-force enumeration of every direction (K = 2, 3), including an exact
 *   null space of A with tau -> 0 (W is then the largest response over the null space, in the S norm);
 * - monotonicity in the data: adding rows never increases W (random matrices and real E+F rows of a defect cell);
 * - J = H^{-1} G against central finite differences of relaxations of V +- a sum_k n_k B_k;
 * - a small study: W(E) >= W(E+F) >= W(E+F+V) >= W(E+F+V+FC) at every R_dom, and the linearisation check passes.
 */
import fc from 'fast-check';
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { beforeAll, describe, expect, it } from 'vitest';
import { defectNeighbourGraph } from '../src/convergence/errors.ts';
import { solveHessian } from '../src/convergence/linear-response.ts';
import {
  addDataRows,
  addNormRows,
  ballBonds,
  basisForces,
  energyNormOf,
  normEnvironments,
  responseTriangle,
  RowTriangle,
  studyBasis,
  worstCaseDense,
  worstCaseFromTriangles,
  worstCaseStudy,
} from '../src/convergence/worst-case-study.ts';
import { observationKinds } from '../src/fit/types.ts';
import { BasisEvaluator, LinearMLIP } from '../src/mlip/model.ts';
import { referenceStep, trainingStep, type ReferenceRecord } from '../src/pipeline/steps.ts';
import { perturb } from '../src/potentials/combine.ts';
import { relax } from '../src/relax/relax.ts';
import { Rng } from '../src/util/rng.ts';

// Entries are 0 or of magnitude >= 1e-6: the Householder QR underneath (src/fit/lsq.ts) underflows for rows of size
// ~1e-140 (their squares are subnormal), far outside anything a design matrix of observations holds.
const entry = fc.double({ min: -2, max: 2, noNaN: true }).map((v) => (Math.abs(v) < 1e-6 ? 0 : v));
const mat = (rows: number, K: number) => fc.array(fc.array(entry, { minLength: K, maxLength: K }), { minLength: rows, maxLength: rows });

/** Directions on the unit sphere of R^K (K = 2: a fine circle; K = 3: a Fibonacci sphere), every one evaluated. */
function directions(K: number, m: number): number[][] {
  const out: number[][] = [];
  if (K === 2) for (let i = 0; i < m; i++) out.push([Math.cos((Math.PI * i) / m), Math.sin((Math.PI * i) / m)]);
  else {
    const g = Math.PI * (3 - Math.sqrt(5));
    for (let i = 0; i < m; i++) {
      const z = 1 - (2 * (i + 0.5)) / m;
      const r = Math.sqrt(1 - z * z);
      out.push([r * Math.cos(g * i), r * Math.sin(g * i), z]);
    }
  }
  return out;
}

const quad = (rows: number[][], n: number[]) => rows.reduce((s, r) => s + r.reduce((t, v, k) => t + v * n[k], 0) ** 2, 0);

describe('worst case: the generalised eigenproblem', () => {
  it('matches a brute-force enumeration of every direction (K = 2, 3)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(2, 3).chain((K) => fc.tuple(fc.constant(K), mat(K + 2, K), mat(K - 1, K), fc.double({ min: 0.05, max: 3, noNaN: true }), fc.array(fc.double({ min: 0.3, max: 3, noNaN: true }), { minLength: K, maxLength: K }))),
        ([K, B, A, tau, diag]) => {
          const L = diag.map((v, k) => diag.map((_, j) => (j === k ? v : 0)));
          const sol = worstCaseDense(B, A, L, tau);
          const m = K === 2 ? 10000 : 20000;
          // Every direction n of the sphere: the quotient never exceeds W.
          let brute = 0;
          for (const n of directions(K, m)) {
            const den = quad(A, n) / tau ** 2 + quad(L, n);
            brute = Math.max(brute, Math.sqrt(quad(B, n) / den));
          }
          // Every direction of the M-unit sphere, n = M^{-1/2} v with M^{-1/2} from a dense eigendecomposition of M
          // (another algorithm than the study's QR + SVD): the quotient ||B M^{-1/2} v||^2 has curvature <= W^2, so the
          // grid (spacing theta ~ sqrt(4 pi / m)) comes within theta^2 of W.
          const M = new Matrix(K, K);
          for (const [rows, f] of [[A, 1 / tau ** 2], [L, 1]] as const)
            for (const r of rows) for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) M.set(i, j, M.get(i, j) + f * r[i] * r[j]);
          const eig = new EigenvalueDecomposition(M);
          const Minvh = eig.eigenvectorMatrix.mmul(Matrix.diag(eig.realEigenvalues.map((x) => 1 / Math.sqrt(x)))).mmul(eig.eigenvectorMatrix.transpose());
          let whitened = 0;
          for (const v of directions(K, m)) {
            const n = Minvh.mmul(Matrix.columnVector(v)).to1DArray();
            whitened = Math.max(whitened, Math.sqrt(quad(B, n)));
          }
          // The maximiser is admissible and attains W; enumeration never exceeds W and comes within grid resolution.
          const n = Array.from(sol.n);
          expect(quad(A, n) / tau ** 2 + quad(L, n)).toBeCloseTo(1, 8);
          expect(Math.sqrt(quad(B, n))).toBeCloseTo(sol.W, 8);
          expect(brute).toBeLessThanOrEqual(sol.W * (1 + 1e-9));
          expect(whitened).toBeLessThanOrEqual(sol.W * (1 + 1e-9));
          expect(whitened).toBeGreaterThanOrEqual(sol.W * (1 - (4 * Math.PI) / m));
        },
      ),
      { numRuns: 20 },
    );
  });

  it('with an exact null space of A and tau -> 0, W is the largest response over the null space', () => {
    fc.assert(
      fc.property(mat(4, 3), mat(1, 3), mat(3, 3), (B, A1, Lr) => {
        // A has rank 2 (two independent rows): null space = the line orthogonal to both.
        const a = A1[0];
        const b = [a[1] + 0.7, -a[0] + 0.2, 1];
        const A = [a, b];
        const nul = [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
        const nn = Math.hypot(...nul);
        fc.pre(nn > 0.1 && Math.hypot(...a) > 0.1);
        const L = Lr.map((r, i) => r.map((v, j) => v * 0.2 + (i === j ? 1 : 0)));
        const expected = Math.sqrt(quad(B, nul) / quad(L, nul));
        const sol = worstCaseDense(B, A, L, 1e-9);
        expect(sol.W).toBeCloseTo(expected, 6);
        // The enumeration over the whole sphere (every direction) agrees: off the null space the ratio collapses.
        let brute = 0;
        for (const n of directions(3, 20000)) brute = Math.max(brute, Math.sqrt(quad(B, n) / (quad(A, n) / 1e-18 + quad(L, n))));
        expect(brute).toBeLessThanOrEqual(sol.W * (1 + 1e-9));
      }),
      { numRuns: 15 },
    );
  });

  it('adding rows to the data never increases W (random matrices)', () => {
    fc.assert(
      fc.property(mat(6, 4), mat(3, 4), mat(3, 4), fc.double({ min: 1e-3, max: 1, noNaN: true }), (B, A, extra, tau) => {
        const L = [0, 1, 2, 3].map((k) => [0, 1, 2, 3].map((j) => (j === k ? 1 + k : 0)));
        const w0 = worstCaseDense(B, A, L, tau).W;
        const w1 = worstCaseDense(B, [...A, ...extra], L, tau).W;
        expect(w1).toBeLessThanOrEqual(w0 * (1 + 1e-9));
      }),
      { numRuns: 60 },
    );
  });
});

describe('worst case: physical pieces on a small ball (eam-2d vacancy, ball R = 8, basis level 1)', () => {
  let ref: ReferenceRecord;
  let ev: BasisEvaluator;
  beforeAll(() => {
    ref = referenceStep({ potential: 'eam-2d', defect: 'vacancy', refSize: 8, checkRefSize: 0, tol: 1e-12 });
    ev = new BasisEvaluator(studyBasis(ref.pot, 2, 1));
  });

  it('J n = H^{-1} G n agrees with central finite differences of relaxations of V +- a n.B', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000_000 }), (seed) => {
        const rng = new Rng(seed);
        const K = ev.size;
        const n = Float64Array.from({ length: K }, () => rng.normal());
        const dom = ref.relaxation.domain;
        const x0 = ref.relaxation.result.structure;
        const free = Uint8Array.from(dom.free);
        const G = basisForces(ev, x0, free);
        const nf = x0.positions.length;
        const gn = new Float64Array(nf);
        for (let k = 0; k < K; k++) for (let i = 0; i < nf; i++) gn[i] += n[k] * G[k * nf + i];
        const jn = solveHessian(ref.pot, x0, free, gn, { relTol: 1e-12 }).x;
        const bonds = ballBonds(dom, defectNeighbourGraph(ref.lattice, 'vacancy'));
        // Amplitude so that the response is ~1e-4 in the energy norm: central differences are then O(a^2) ~ 1e-8 off.
        const a = 1e-4 / energyNormOf(jn, bonds, 2);
        const spec = studyBasis(ref.pot, 2, 1);
        const relaxed = (s: number) =>
          relax(perturb(ref.pot, new LinearMLIP(spec, n.map((v) => s * a * v)), 1), x0, free, { tol: 1e-13, solver: 'auto' }).structure.positions;
        const up = relaxed(1);
        const dn = relaxed(-1);
        const fd = new Float64Array(nf);
        const diff = new Float64Array(nf);
        for (let i = 0; i < nf; i++) {
          fd[i] = (up[i] - dn[i]) / (2 * a);
          diff[i] = fd[i] - jn[i];
        }
        expect(energyNormOf(diff, bonds, 2)).toBeLessThanOrEqual(1e-4 * energyNormOf(jn, bonds, 2));
      }),
      { numRuns: 2 },
    );
  });

  it('adding rows of a real E+F training cell never increases W (random nested row subsets)', async () => {
    const dom = ref.relaxation.domain;
    const x0 = ref.relaxation.result.structure;
    const free = Uint8Array.from(dom.free);
    const K = ev.size;
    const G = basisForces(ev, x0, free);
    const nf = x0.positions.length;
    const J: Float64Array[] = [];
    for (let k = 0; k < K; k++) J.push(solveHessian(ref.pot, x0, free, G.subarray(k * nf, (k + 1) * nf), { relTol: 1e-10 }).x);
    const T = responseTriangle(J, ballBonds(dom, defectNeighbourGraph(ref.lattice, 'vacancy')), 2);
    const tr = await trainingStep(ref, { rDom: 7, observations: 'E+F', rattled: 0, perfectCells: 'by-kind' });
    const cell = tr.set.configs.find((c) => c.role === 'defect-relaxed')!;
    const nAtoms = cell.structure.positions.length / 2;
    const norm = new RowTriangle(K);
    addNormRows(norm, ev, 'env', 1, () => normEnvironments(ref, ev.cutoff));
    const W = (mask: boolean[]) => {
      const tri = norm.clone();
      // E row always; force rows of the masked atoms only (forceMask zeroes the others' weights).
      addDataRows(tri, ev, { ...cell, forceMask: Uint8Array.from(mask, (b) => (b ? 1 : 0)) }, observationKinds('E+F'), { E: 1, F: 1, V: 1, FC: 1 }, 1e-4);
      return worstCaseFromTriangles(T, tri.triangle(), K).W;
    };
    fc.assert(
      fc.property(fc.array(fc.boolean(), { minLength: nAtoms, maxLength: nAtoms }), fc.array(fc.boolean(), { minLength: nAtoms, maxLength: nAtoms }), (m1, m2) => {
        const small = m1;
        const large = m1.map((b, i) => b || m2[i]);
        expect(W(large)).toBeLessThanOrEqual(W(small) * (1 + 1e-9));
      }),
      { numRuns: 10 },
    );
  });
});

describe('worst-case study (small: ball R = 11, R_dom 7-10, basis level 1)', () => {
  it('orders the observation sets by their rows at every R_dom and passes the linearisation check', async () => {
    const rs = await worstCaseStudy({ defect: 'vacancy', sizes: [7, 8.5, 10], refSize: 11, basisLevel: 1, tau: 1e-4, linearisation: { amplitudes: [0.25, 0.5, 1] } });
    const by = Object.fromEntries(rs.map((r) => [r.label, r]));
    expect(Object.keys(by).sort()).toEqual(['E', 'E+F', 'E+F+FC', 'E+F+V', 'E+F+V+FC']);
    for (const r of rs) {
      expect(r.study).toBe('worst-case');
      expect(r.points.map((p) => p.x).every((x, i, a) => i === 0 || x > a[i - 1])).toBe(true);
      expect(r.fits.map((f) => f.measure)).toEqual(expect.arrayContaining(['energyNorm', 'formationEnergy', 'energyNorm:S-env']));
    }
    const chain = ['E', 'E+F', 'E+F+V', 'E+F+V+FC'];
    for (let i = 0; i < 3; i++) {
      const a = by[chain[i]].points;
      const b = by[chain[i + 1]].points;
      b.forEach((p, j) => expect(p.errors.energyNorm).toBeLessThanOrEqual(a[j].errors.energyNorm * (1 + 1e-8)));
    }
    const lin = by['E+F'].fits.find((f) => f.measure === 'linearisation:amplitude')!;
    expect(lin.verdict).toBe('pass');
    expect(Math.abs(lin.slope - 1)).toBeLessThanOrEqual(0.05);
  });
});
