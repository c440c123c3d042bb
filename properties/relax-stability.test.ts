/**
 * The stability check (src/relax/stability.ts): Lanczos' lowest Rayleigh quotient against the dense Hessian's lowest
 * eigenvalue on small generated domains, and the proof direction: a negative value is a genuine negative curvature.
 */
import fc from 'fast-check';
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { describe, expect, it } from 'vitest';
import { makeDomain, type BoundaryKind, type DefectKind } from '../src/lattice/domain.ts';
import { makePotential } from '../src/potentials/defaults.ts';
import { equilibriumLattice } from '../src/potentials/equilibrium.ts';
import { forceConstants } from '../src/potentials/evaluate.ts';
import { relax } from '../src/relax/relax.ts';
import { lowestEigenvalue } from '../src/relax/stability.ts';
import { withPositions } from '../src/lattice/structure.ts';

/** Lowest eigenvalue of the dense Hessian restricted to free coordinates (translations removed when all are free). */
function denseLowest(pot: ReturnType<typeof makePotential>, s: Parameters<typeof forceConstants>[1], free: Uint8Array): number {
  const d = s.dim;
  const n = s.positions.length / d;
  const fc = forceConstants(pot, s);
  const idx: number[] = [];
  for (let i = 0; i < n; i++) if (free[i]) for (let a = 0; a < d; a++) idx.push(i * d + a);
  const H = new Matrix(idx.length, idx.length);
  for (let c = 0; c < idx.length; c++) for (let r = 0; r < idx.length; r++) H.set(r, c, fc.columns[idx[c]][idx[r]]);
  const sym = H.add(H.transpose()).mul(0.5);
  const vals = new EigenvalueDecomposition(sym, { assumeSymmetric: true }).realEigenvalues;
  // All free (periodic): the d translations are exact zero modes (translation invariance) and not part of the
  // question; drop the d eigenvalues of smallest magnitude.
  if (free.every((f) => f)) {
    const byMag = vals.map((v, i) => [Math.abs(v), i]).sort((a, b) => a[0] - b[0]);
    const drop = new Set(byMag.slice(0, d).map((x) => x[1]));
    return Math.min(...vals.filter((_, i) => !drop.has(i)));
  }
  return Math.min(...vals);
}

describe('stability check (Lanczos lowest curvature)', () => {
  it('matches the lowest eigenvalue of the dense Hessian on small generated relaxed domains, stable or not', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 2.6, max: 3.4, noNaN: true }),
        fc.constantFrom<DefectKind>('vacancy', 'interstitial', 'divacancy'),
        fc.constantFrom<BoundaryKind>('ball', 'periodic'),
        fc.integer({ min: 1, max: 1000 }),
        (alpha, defect, boundary, seed) => {
          const pot = makePotential('eam-2d', { alpha });
          const pl = equilibriumLattice(pot, 'triangular');
          const dom = makeDomain(pl.lattice, defect, boundary, boundary === 'ball' ? 3.5 : 6, pot.cutoff);
          const r = relax(pot, dom.structure, dom.free, { tol: 1e-8 });
          const s = withPositions(r.structure, r.structure.positions);
          const st = lowestEigenvalue(pot, s, dom.free, { seed, iterations: 200 });
          const exact = denseLowest(pot, s, dom.free);
          // Rayleigh quotient >= lambda_min always; with enough steps on these small spaces it converges.
          expect(st.rayleigh).toBeGreaterThanOrEqual(exact - 1e-9 * Math.abs(st.largest));
          expect(Math.abs(st.rayleigh - exact), `${alpha} ${defect} ${boundary}: ${st.rayleigh} vs ${exact}`).toBeLessThan(1e-6 * Math.abs(st.largest));
          expect(st.verdict).toBe(exact < -1e-6 ? 'unstable' : 'stable');
        },
      ),
      { numRuns: 12, seed: 4242, endOnFailure: true },
    );
  });

  it('the symmetric eam-2d vacancy at alpha 2.6 is a saddle: moving along the Lanczos vector lowers the energy', () => {
    const pot = makePotential('eam-2d', { D: 0.4, alpha: 2.6, C: 0.03 });
    const pl = equilibriumLattice(pot, 'triangular');
    const dom = makeDomain(pl.lattice, 'vacancy', 'ball', 6, pot.cutoff);
    const r = relax(pot, dom.structure, dom.free, { tol: 1e-10 });
    const st = lowestEigenvalue(pot, r.structure, dom.free);
    expect(st.verdict).toBe('unstable');
    expect(st.rayleigh).toBeLessThan(-1);
    // Independent evidence: rattled starts reach a lower minimum than the symmetric start.
    const start = r.structure.positions.slice();
    let k = 0;
    for (let i = 0; i < dom.keys.length; i++) if (dom.free[i]) for (let a = 0; a < 2; a++) start[2 * i + a] += 0.02 * Math.sin(++k * 12.9898) * pl.lattice.r0;
    const r2 = relax(pot, withPositions(r.structure, start), dom.free, { tol: 1e-10 });
    expect(r2.energy).toBeLessThan(r.energy - 1e-3);
  });
});
