/**
 * 3D defects of real metals (src/lattice/domain.ts): the self-interstitial is the split dumbbell, <100> in fcc and
 * <110> in bcc, the octahedral site is the named variant 'interstitial-octahedral', the divacancy is a
 * nearest-neighbour pair; atom counts follow. Then, on LAMMPS files (Cu_mishin1 fcc, Fe_mm bcc), the relaxed
 * dumbbell keeps its axis (the start is on the axis and the potential is symmetric under the dumbbell's point group)
 * and is a strongly stable minimum by the studies' own test (strongStability).
 */
import fc from 'fast-check';
import { test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { ballDomain, defectExtraSites, DUMBBELL_KEY, INTERSTITIAL_KEY, periodicDomain, type DefectKind, type Domain } from '../src/lattice/domain.ts';
import { makeLattice, sitePosition, siteKey } from '../src/lattice/lattice.ts';
import { readEamPotential } from '../src/potentials/eam-table.ts';
import { equilibriumLattice } from '../src/potentials/equilibrium.ts';
import { relaxDefect } from '../src/relax/defect.ts';
import { strongStability } from '../src/relax/stability.ts';
import { ParameterError } from '../src/util/errors.ts';

const pos = (dom: Domain, key: string): number[] => {
  const i = dom.keys.indexOf(key);
  expect(i, `key ${key}`).toBeGreaterThanOrEqual(0);
  return Array.from(dom.structure.positions.subarray(3 * i, 3 * i + 3));
};
const norm = (v: number[]): number => Math.hypot(...v);

describe('3D defect geometry', () => {
  test.prop(
    [
      fc.constantFrom('fcc' as const, 'bcc' as const),
      fc.constantFrom('ball' as const, 'periodic' as const),
      fc.double({ min: 0.8, max: 3, noNaN: true }),
      fc.double({ min: 1.2, max: 2.2, noNaN: true }),
    ],
    { numRuns: 30 },
  )('dumbbell axis and symmetry, octahedral site, nearest-neighbour divacancy, atom counts', (name, boundary, r0, size) => {
    const l = makeLattice(name, r0);
    const cutoff = 1.1 * r0;
    const make = (d: DefectKind): Domain =>
      boundary === 'ball' ? ballDomain(l, d, size * 2 * r0, cutoff) : periodicDomain(l, d, size * 2 * r0, cutoff);
    const perfect = make('none');
    const N = perfect.keys.length;
    const origin = siteKey([0, 0, 0], 0);

    const db = make('interstitial');
    expect(db.keys.length).toBe(N + 1);
    expect(db.keys.includes(origin)).toBe(false);
    const p = pos(db, INTERSTITIAL_KEY);
    const q = pos(db, DUMBBELL_KEY);
    // Symmetric about the removed site.
    for (let a = 0; a < 3; a++) expect(Math.abs(p[a] + q[a])).toBeLessThan(1e-12 * r0);
    const axis = p.map((x) => x / norm(p));
    const sorted = axis.map(Math.abs).sort((x, y) => y - x);
    if (name === 'fcc') expect(sorted[0]).toBeCloseTo(1, 12); // <100>
    else {
      expect(sorted[0]).toBeCloseTo(Math.SQRT1_2, 12); // <110>
      expect(sorted[1]).toBeCloseTo(Math.SQRT1_2, 12);
      expect(sorted[2]).toBeCloseTo(0, 12);
    }
    // Both atoms are clear of every lattice site (>= 0.5 r0) at the start.
    const x = db.structure.positions;
    for (const e of [p, q]) {
      for (let i = 0; i < db.keys.length; i++) {
        if (db.keys[i].startsWith('int:')) continue;
        const d = Math.hypot(x[3 * i] - e[0], x[3 * i + 1] - e[1], x[3 * i + 2] - e[2]);
        expect(d).toBeGreaterThan(0.5 * r0);
      }
    }

    const oct = make('interstitial-octahedral');
    expect(oct.keys.length).toBe(N + 1);
    expect(oct.keys.includes(origin)).toBe(true);
    const o = pos(oct, INTERSTITIAL_KEY);
    // An octahedral site: its nearest lattice sites are at a/2 (6 in fcc, 2 in bcc on the distorted octahedron).
    const a = name === 'fcc' ? r0 * Math.SQRT2 : (2 * r0) / Math.sqrt(3);
    const dists: number[] = [];
    const nb = l.basis.length / 3;
    for (let i = -2; i <= 2; i++)
      for (let j = -2; j <= 2; j++)
        for (let k = -2; k <= 2; k++)
          for (let bb = 0; bb < nb; bb++) {
            const y = sitePosition(l, [i, j, k], bb);
            dists.push(Math.hypot(y[0] - o[0], y[1] - o[1], y[2] - o[2]));
          }
    const nearest = dists.filter((d) => d < a / 2 + 1e-9 * a);
    expect(Math.min(...dists)).toBeCloseTo(a / 2, 10);
    expect(nearest.length).toBe(name === 'fcc' ? 6 : 2);

    const vac = make('vacancy');
    expect(vac.keys.length).toBe(N - 1);
    const div = make('divacancy');
    expect(div.keys.length).toBe(N - 2);
    const removed = perfect.keys.filter((k) => !div.keys.includes(k));
    expect(removed.length).toBe(2);
    expect(removed).toContain(origin);
    const partner = removed.find((k) => k !== origin)!;
    const [m, b] = partner.split(':');
    const xp = sitePosition(l, m.split(',').map(Number), Number(b));
    // Nearest neighbours: at r0, and r0 is the smallest site distance of the lattice.
    expect(norm(Array.from(xp))).toBeCloseTo(r0, 12);
  });

  it('the extra sites of the 2D interstitial are unchanged, and the octahedral variant is 3D only', () => {
    const tri = makeLattice('triangular', 1);
    expect(defectExtraSites(tri, 'interstitial')).toEqual([{ key: INTERSTITIAL_KEY, position: Float64Array.from(tri.interstitial) }]);
    expect(() => ballDomain(tri, 'interstitial-octahedral', 4, 1.5)).toThrow(ParameterError);
    expect(() => ballDomain(tri, 'interstitial-octahedral', 4, 1.5)).toThrow(/3D defect/);
  });
});

const FILES = [
  { file: '/usr/share/lammps/potentials/Cu_mishin1.eam.alloy', lattice: 'fcc' as const, guess: 2.5, reps: [4, 4, 4] },
  { file: '/usr/share/lammps/potentials/Fe_mm.eam.fs', lattice: 'bcc' as const, guess: 2.5, reps: [5, 5, 5] },
].filter((c) => existsSync(c.file));

describe.skipIf(FILES.length === 0)('relaxed dumbbells of real metals (LAMMPS EAM files)', () => {
  for (const c of FILES) {
    it(`${c.file.split('/').pop()} ${c.lattice}: the relaxed dumbbell keeps its axis and is strongly stable`, () => {
      const pot = readEamPotential(c.file);
      const pl = equilibriumLattice(pot, c.lattice, c.guess);
      const dom = periodicDomain(pl.lattice, 'interstitial', 1, pot.cutoff, c.reps);
      const r = relaxDefect(pot, dom, { tol: 1e-9, e0: pl.e0 });
      const p = pos({ ...dom, structure: r.result.structure }, INTERSTITIAL_KEY);
      const q = pos({ ...dom, structure: r.result.structure }, DUMBBELL_KEY);
      const axis = Float64Array.from(pos(dom, INTERSTITIAL_KEY)).map((v, _i, arr) => v / Math.hypot(...arr));
      const sep = [p[0] - q[0], p[1] - q[1], p[2] - q[2]];
      const along = sep[0] * axis[0] + sep[1] * axis[1] + sep[2] * axis[2];
      const perp = Math.hypot(sep[0] - along * axis[0], sep[1] - along * axis[1], sep[2] - along * axis[2]);
      expect(perp).toBeLessThan(1e-6 * pl.lattice.r0);
      // A split dumbbell: the pair is closer than r0 but not collapsed.
      expect(along).toBeGreaterThan(0.6 * pl.lattice.r0);
      expect(along).toBeLessThan(pl.lattice.r0);
      expect(r.formationEnergy).toBeGreaterThan(0);
      const st = strongStability(pot, r.result.structure, dom.free, { iterations: 30 });
      expect(st.verdict, JSON.stringify(st)).toBe('strongly stable');
    }, 240_000);
  }
});
