/**
 * Where the time of one EAM energy+forces evaluation goes (issue 12: 1.3x LAMMPS' pair time), on the crosscheck's
 * 32,000-atom fcc Cu cell with the list at cutoff + LAMMPS' 1 A skin, in process CPU time (medians of interleaved
 * repetitions; the machine is shared, so parts are compared within this run):
 *   build      a neighbour-list build (buildNeighbourList; the issue asks for no more than one evaluation);
 *   gather     the site records (coordinates of atoms and ghost images, zeroed sums) from the positions;
 *   traversal  the half list walked with r^2, the cutoff test and sqrt, nothing else (the floor of pass 1);
 *   density    pass 1 (densities: one spline value per pair, two scattered additions; densities accumulate over
 *              repetitions here, which changes nothing of the work);
 *   embedding  F(rho), F'(rho) per atom;
 *   force      pass 2 (r again, three spline values, forces, site energies);
 *   evaluate   the whole call (the parts plus zeroing, the virial from the site forces, folding ghosts into atoms
 *              and the compensated energy sum);
 * and LAMMPS' Pair time per step on the same cell (run 20), as CPU time: Pair x its '% CPU use'.
 * Prints a table; writes nothing. Usage: npx tsx benchmarks/eam-breakdown.ts [--reps 15] [--potential mishin|u3]
 */
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { runLammpsDirect } from '../src/bench/lammps-direct.ts';
import { DEBIAN_POTENTIALS, findLammps } from '../src/engines/lammps.ts';
import { periodicDomain } from '../src/lattice/domain.ts';
import { makeLattice } from '../src/lattice/lattice.ts';
import { buildNeighbourList, siteCoordinates, type HalfNeighbourList } from '../src/lattice/neighbours.ts';
import type { Structure } from '../src/lattice/structure.ts';
import { SITE_E, SITE_FP, SITE_RHO, SITE_SLOTS } from '../src/potentials/eam.ts';
import { readEamPotential, TabulatedEAM } from '../src/potentials/eam-table.ts';
import { Rng } from '../src/util/rng.ts';

/** The protected passes of the tabulated kernel, callable one at a time. */
class Probe extends TabulatedEAM {
  densityOnly(S: Float64Array, h: HalfNeighbourList): void {
    this.densityPass(S, h);
  }
  forceOnly(S: Float64Array, h: HalfNeighbourList): void {
    this.forcePass(S, h);
  }
  /** Pairs pass 1 found within the cutoff (pass 2's loop count). */
  get accepted(): number {
    return this.accRow[this.accRow.length - 1];
  }
}

/** Site records as evaluate() gathers them (SITE_SLOTS doubles per site). */
function gatherRecords(h: HalfNeighbourList, x: Float64Array, S: Float64Array): void {
  const X = siteCoordinates(h, x, 3);
  for (let e = 0; e < h.atom.length; e++) {
    for (let a = 0; a < 3; a++) S[SITE_SLOTS * e + a] = X[3 * e + a];
    for (let a = 3; a < SITE_SLOTS; a++) S[SITE_SLOTS * e + a] = 0;
  }
}

/** Only the list walk: r^2, cutoff test, sqrt, over the site records. */
function traverse(S: Float64Array, h: HalfNeighbourList, rc2: number): number {
  const { rows, offsets, index } = h;
  let acc = 0;
  for (let row = 0; row < rows.length; row++) {
    const i = 8 * (rows[row] & 0x0fffffff); // SITE_SLOTS, MAX_SITES as literals, as in the kernels
    const x0 = S[i];
    const x1 = S[i + 1];
    const x2 = S[i + 2];
    for (let p = offsets[row]; p < offsets[row + 1]; p++) {
      const j = 8 * (index[p] & 0x0fffffff);
      const dx = S[j] - x0;
      const dy = S[j + 1] - x1;
      const dz = S[j + 2] - x2;
      const r2 = dx * dx + dy * dy + dz * dz;
      if (r2 < rc2) acc += Math.sqrt(r2);
    }
  }
  return acc;
}

const argv = process.argv.slice(2);
const ri = argv.indexOf('--reps');
const reps = ri >= 0 ? Number(argv[ri + 1]) : 15;
const pi = argv.indexOf('--potential');
const which = pi >= 0 ? argv[pi + 1] : 'mishin';
if (which !== 'mishin' && which !== 'u3') throw new Error(`--potential mishin|u3, got ${which}`);
const file = which === 'u3' ? new URL('../fixtures/Cu_u3.eam', import.meta.url).pathname : join(DEBIAN_POTENTIALS, 'Cu_mishin1.eam.alloy');
const tab = readEamPotential(file, which === 'u3' ? {} : { element: 'Cu' }) as TabulatedEAM;
const lines = which === 'u3' ? ['pair_style eam', `pair_coeff * * ${file}`] : ['pair_style eam/alloy', `pair_coeff * * ${file} Cu`];
const pot = new Probe('probe', tab.tabPair, tab.tabDensity, tab.tabEmbedding);
const dom = periodicDomain(makeLattice('fcc', 3.615 / Math.SQRT2), 'none', 1, 5.6, [20, 20, 20]);
const rng = new Rng(20261225);
const s: Structure = { ...dom.structure, positions: dom.structure.positions.map((v) => v + 0.05 * (2 * rng.uniform() - 1)) };
const n = s.positions.length / 3;
let nl = buildNeighbourList(s, pot.cutoff + 1.0, { inner: pot.cutoff });
const h = nl.half!;
const ns = h.atom.length;
const S = new Float64Array(SITE_SLOTS * ns);
gatherRecords(h, s.positions, S);
const t3 = new Float64Array(3);
const cpu = (fn: () => void): number => {
  const c = process.cpuUsage();
  fn();
  const u = process.cpuUsage(c);
  return (u.user + u.system) / 1000;
};
const parts: Record<string, () => void> = {
  build: () => {
    nl = buildNeighbourList(s, pot.cutoff + 1.0, { inner: pot.cutoff });
  },
  gather: () => gatherRecords(h, s.positions, S),
  traversal: () => traverse(S, h, pot.cutoff * pot.cutoff),
  density: () => pot.densityOnly(S, h),
  embedding: () => {
    for (let r = 0; r < n; r++) {
      const q = SITE_SLOTS * h.rows[r];
      tab.tabEmbedding.eval(S[q + SITE_RHO], t3, h.rows[r]);
      S[q + SITE_E] = t3[0];
      S[q + SITE_FP] = t3[1];
    }
  },
  force: () => pot.forceOnly(S, h),
  evaluate: () => pot.evaluate(s, nl),
};
const times: Record<string, number[]> = Object.fromEntries(Object.keys(parts).map((k) => [k, []]));
for (let w = 0; w < 3; w++) for (const fn of Object.values(parts)) fn(); // JIT warm-up
for (let q = 0; q < reps; q++) for (const [k, fn] of Object.entries(parts)) times[k].push(cpu(fn));
const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];
console.log(`${which}, ${n} atoms (${ns} sites), ${h.index.length} list pairs at cutoff + 1 A; process CPU ms, median of ${reps}; load ${loadavg()[0].toFixed(2)}:`);
for (const k of Object.keys(parts)) console.log(`  ${k.padEnd(10)} ${median(times[k]).toFixed(1).padStart(7)} ms   (min ${Math.min(...times[k]).toFixed(1)})`);
pot.densityOnly(S, h);
const within = pot.accepted;
// Per-pair costs (fastest runs): pass 1 walks every list entry, pass 2 only the pairs within the cutoff, so the two
// potentials compare per entry and per pair (LAMMPS' two passes both walk every entry).
console.log(
  `  pairs within the cutoff ${within} of ${h.index.length} list entries (${((100 * within) / h.index.length).toFixed(0)}%); density ${((1e6 * Math.min(...times.density)) / h.index.length).toFixed(1)} ns per list entry, force ${((1e6 * Math.min(...times.force)) / within).toFixed(1)} ns per pair within the cutoff (fastest runs)`,
);
const lmp = findLammps();
if (lmp) {
  const L = runLammpsDirect(s, { lmp, potential: lines, steps: 20, dump: false });
  const pairMs = (1000 * L.pairSeconds) / 20;
  console.log(`  LAMMPS pair ${pairMs.toFixed(1)} ms/step wall at ${L.cpuPercent}% CPU: ${((pairMs * L.cpuPercent) / 100).toFixed(1)} ms CPU; evaluate / LAMMPS ${(median(times.evaluate) / ((pairMs * L.cpuPercent) / 100)).toFixed(2)}x (CPU)`);
} else console.log('  (no LAMMPS binary: no comparison)');
