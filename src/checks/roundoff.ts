import { atomCount, type Structure } from '../lattice/structure.ts';
import { evaluate } from '../potentials/evaluate.ts';
import type { EvalResult, SitePotential } from '../potentials/types.ts';
import { Rng } from '../util/rng.ts';
import { maxAbs } from './configs.ts';

/**
 * Round-off scale of one evaluation: how much E and F change under exact symmetries that reorder the arithmetic (three
 * random permutations of the atoms, one with a rigid translation), at least 4 u |E|. An engine may recentre a
 * translated cell, so permutations are the probe that always changes its summation order (LAMMPS eam/fs, Fe_mm, 128
 * atoms: ~4e-12 eV on 540 eV).
 */
export function roundOffSample(pot: SitePotential, s: Structure, r0: number, base: EvalResult, seed: number): { energy: number; force: number } {
  let e = 4 * 2 ** -53 * Math.abs(base.energy);
  let f = 4 * 2 ** -53 * maxAbs(base.forces);
  const rng = new Rng(seed ^ 0x0f0f0f0f);
  const d = s.dim;
  const n = atomCount(s);
  for (let q = 0; q < 3; q++) {
    const perm = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rng.uniform() * (i + 1));
      [perm[i], perm[j]] = [perm[j], perm[i]];
    }
    const x = new Float64Array(s.positions.length);
    for (let i = 0; i < n; i++) for (let a = 0; a < d; a++) x[i * d + a] = s.positions[perm[i] * d + a] + (q === 2 ? 0.37 * r0 : 0);
    const r = evaluate(pot, { dim: d, positions: x, cell: s.cell });
    e = Math.max(e, Math.abs(r.energy - base.energy));
    for (let i = 0; i < n; i++) for (let a = 0; a < d; a++) f = Math.max(f, Math.abs(r.forces[i * d + a] - base.forces[perm[i] * d + a]));
  }
  return { energy: e, force: f };
}
