import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { AsePotential } from '../src/engines/ase/engine.ts';
import { DEBIAN_POTENTIALS } from '../src/engines/lammps.ts';
import { buildNeighbourList } from '../src/lattice/neighbours.ts';
import { readEamPotential } from '../src/potentials/eam-table.ts';
import { evaluate } from '../src/potentials/evaluate.ts';
import { fccCell, PY, WHY_SKIP } from './engine-ase-support.ts';

/**
 * ase.calculators.eam.EAM reading Cu_mishin1.eam.alloy (the file the LAMMPS tests use) against mlip-verify's own
 * reader of the same file (readEamPotential, which splines the tables exactly as LAMMPS' pair_eam does).
 *
 * They cannot agree to round-off: both interpolate the same tables exactly at the knots, but differently between them.
 * ASE fits scipy's InterpolatedUnivariateSpline (a global C^2 cubic spline, not-a-knot ends) to F(rho), rho(r) and
 * phi(r) = (r phi)(r) / r; LAMMPS (and we) use a local C^1 cubic per interval whose slopes come from 4-point finite
 * differences, and spline r*phi, dividing by r afterwards. Two O(h^4) interpolants of the same data differ by
 * O(h^4 f'''') in values and O(h^3 f'''') in slopes. So the test measures the difference of the two interpolants of
 * each function (at the knot midpoints, where they differ most) and checks that the energy and force differences
 * are within what those per-function differences allow for the neighbour counts of the configuration:
 *   |dE|/N  <= dF + max|F'| * n * drho + n/2 * dphi
 *   |dF_i|  <= n * (dphi' + 2 max|F'| drho' + 2 max|rho'| dF')
 * (first order; n = most neighbours inside the cutoff). ASE's EAM implements no stress, so no virial is compared.
 */
const POT = 'Cu_mishin1.eam.alloy';
const potFile = [join(DEBIAN_POTENTIALS, POT), join(process.cwd(), 'fixtures', POT)].find(existsSync);
const why = WHY_SKIP || (!potFile ? `${POT} not found (install lammps-data)` : '');
if (why) console.warn(`[engine-ase-eam] SKIPPED: ${why}`);

const SPLINES = `
import json, sys
import numpy as np
from ase.calculators.eam import EAM
c = EAM(potential=sys.argv[1])
d = json.loads(sys.stdin.read())
r = np.array(d['r']); rho = np.array(d['rho'])
print(json.dumps({
  'phi': c.phi[0, 0](r).tolist(), 'dphi': c.d_phi[0, 0](r).tolist(),
  'dens': c.electron_density[0](r).tolist(), 'ddens': c.d_electron_density[0](r).tolist(),
  'F': c.embedded_energy[0](rho).tolist(), 'dF': c.d_embedded_energy[0](rho).tolist(),
}))
`;

describe.skipIf(!!why)('ase.calculators.eam.EAM against our reader of the same LAMMPS file', () => {
  test('energy and forces differ by what the two interpolations of the tables differ, no more', async () => {
    const ours = readEamPotential(potFile!, { element: 'Cu' });
    const ase = new AsePotential({ calc: 'ase.calculators.eam:EAM', args: { potential: potFile }, python: PY! });
    try {
      expect(ase.describe().element).toBe('Cu'); // from the file
      expect(ase.describe().virial).toBe(false);
      expect(ase.cutoff).toBe(ours.cutoff);
      const s = fccCell(3.615 / Math.SQRT2, 4, 21, 0.15); // 256 atoms: our evaluation wants 2 x cutoff across
      const a = ase.evaluate(s);
      const b = evaluate(ours, s);
      const n = s.positions.length / 3;
      const dE = Math.abs(a.energy - b.energy) / n;
      let dF = 0;
      for (let i = 0; i < 3 * n; i++) dF = Math.max(dF, Math.abs(a.forces[i] - b.forces[i]));

      // The two interpolants of each function, at the knot midpoints over the ranges this configuration uses.
      const nl = buildNeighbourList(s, ours.cutoff);
      let rmin = Infinity;
      let nmax = 0;
      const rhoSite = new Float64Array(n);
      const t = new Float64Array(3);
      for (let i = 0; i < n; i++) {
        let cnt = 0;
        for (let k = nl.offsets[i]; k < nl.offsets[i + 1]; k++) {
          const j = nl.index[k];
          let r2 = 0;
          for (let c = 0; c < 3; c++) r2 += (s.positions[3 * j + c] + nl.shift[3 * k + c] - s.positions[3 * i + c]) ** 2;
          const r = Math.sqrt(r2);
          if (r >= ours.cutoff) continue;
          cnt++;
          rmin = Math.min(rmin, r);
          ours.density!.eval(r, t);
          rhoSite[i] += t[0];
        }
        nmax = Math.max(nmax, cnt);
      }
      const dr = 0.00089991000899910004;
      const rs: number[] = [];
      for (let k = Math.floor(rmin / dr); (k + 1) * dr < ours.cutoff; k++) rs.push((k + 0.5) * dr);
      const drho = 0.00016401626143851118;
      const [lo, hi] = [Math.min(...rhoSite), Math.max(...rhoSite)];
      const rhos: number[] = [];
      for (let k = Math.floor(lo / drho) - 2; k * drho < hi + 2 * drho; k++) rhos.push((k + 0.5) * drho);
      const r = spawnSync(PY!, ['-c', SPLINES, potFile!], { input: JSON.stringify({ r: rs, rho: rhos }), encoding: 'utf8', maxBuffer: 1 << 26 });
      expect(r.status, r.stderr).toBe(0);
      const sp = JSON.parse(r.stdout) as Record<string, number[]>;
      const d = { phi: 0, dphi: 0, dens: 0, ddens: 0, F: 0, dF: 0, maxFp: 0, maxRhop: 0 };
      rs.forEach((x, k) => {
        ours.pair.eval(x, t);
        d.phi = Math.max(d.phi, Math.abs(t[0] - sp.phi[k]));
        d.dphi = Math.max(d.dphi, Math.abs(t[1] - sp.dphi[k]));
        ours.density!.eval(x, t);
        d.dens = Math.max(d.dens, Math.abs(t[0] - sp.dens[k]));
        d.ddens = Math.max(d.ddens, Math.abs(t[1] - sp.ddens[k]));
        d.maxRhop = Math.max(d.maxRhop, Math.abs(t[1]));
      });
      rhos.forEach((x, k) => {
        ours.embedding!.eval(x, t, 0);
        d.F = Math.max(d.F, Math.abs(t[0] - sp.F[k]));
        d.dF = Math.max(d.dF, Math.abs(t[1] - sp.dF[k]));
        d.maxFp = Math.max(d.maxFp, Math.abs(t[1]));
      });
      const boundE = d.F + d.maxFp * nmax * d.dens + (nmax / 2) * d.phi;
      const boundF = nmax * (d.dphi + 2 * d.maxFp * d.ddens + 2 * d.maxRhop * d.dF);
      console.log(
        `[engine-ase-eam] ${n} atoms, <= ${nmax} neighbours, r >= ${rmin.toFixed(3)} A, rho in [${lo.toFixed(3)}, ${hi.toFixed(3)}]; ` +
          `interpolants differ: phi ${d.phi.toExponential(2)} (slope ${d.dphi.toExponential(2)}), rho ${d.dens.toExponential(2)} ` +
          `(slope ${d.ddens.toExponential(2)}), F ${d.F.toExponential(2)} (slope ${d.dF.toExponential(2)}); ` +
          `|dE|/N ${dE.toExponential(2)} eV (bound ${boundE.toExponential(2)}), max|dF| ${dF.toExponential(2)} eV/A (bound ${boundF.toExponential(2)}); ` +
          `E/N ${(b.energy / n).toFixed(6)} eV`,
      );
      expect(dE).toBeLessThanOrEqual(boundE);
      expect(dF).toBeLessThanOrEqual(boundF);
      // and they are not identical: if they were, this test would not be measuring two interpolations
      expect(dF).toBeGreaterThan(0);
    } finally {
      await ase.dispose();
    }
  });
});
