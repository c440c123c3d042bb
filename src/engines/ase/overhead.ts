/**
 * What the socket costs: wall time per evaluation through the ASE engine against the calculator's own time (measured
 * inside the client around get_potential_energy/get_forces/get_stress). The difference is everything else: embedding,
 * the worker hand-off, 3N doubles each way over the UNIX socket, numpy decoding, Atoms updates, unit conversions.
 *
 *   npx tsx src/engines/ase/overhead.ts [calls at 500 atoms, default 20] [calls at 5000, default 5]
 *
 * Runs a do-nothing calculator (zero energy, forces and stress: the pure overhead), ASE's Lennard-Jones (a real,
 * vectorised calculator) and ASE's EMT (a per-atom Python loop) on fcc cells of 500 and 5000 atoms. Prints the load average: timings are meaningless without it.
 */
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { periodicDomain } from '../../lattice/domain.ts';
import { makeLattice } from '../../lattice/lattice.ts';
import type { Structure } from '../../lattice/structure.ts';
import { AsePotential } from './engine.ts';

export interface OverheadRow {
  calculator: string;
  atoms: number;
  calls: number;
  wallMsPerCall: number;
  calculatorMsPerCall: number;
  overheadMsPerCall: number;
}

function fcc(reps: [number, number, number]): Structure {
  const r0 = 2.55;
  return periodicDomain(makeLattice('fcc', r0), 'none', 1, 1, reps).structure;
}

export async function measureOverhead(calc: string, args: Record<string, unknown>, cutoff: number | undefined, s: Structure, calls: number): Promise<OverheadRow> {
  const pot = new AsePotential({ calc, args, cutoff });
  try {
    const x = Float64Array.from(s.positions);
    pot.evaluate({ ...s, positions: x }); // warm-up: connection, first Atoms build
    const w0 = pot.wallTimeSeconds;
    for (let k = 1; k <= calls; k++) {
      x[0] = s.positions[0] + 1e-6 * k; // a new configuration each call (the engine caches the last one)
      pot.evaluate({ ...s, positions: x });
    }
    const wall = pot.wallTimeSeconds - w0;
    await pot.dispose();
    const st = pot.calculatorStats!;
    // the client's stats include the warm-up call (neighbour lists built from scratch): leave it out
    const calcPer = ((st.seconds - st.first) / (st.evaluations - 1)) * 1000;
    const wallPer = (wall / calls) * 1000;
    return { calculator: calc, atoms: s.positions.length / 3, calls, wallMsPerCall: wallPer, calculatorMsPerCall: calcPer, overheadMsPerCall: wallPer - calcPer };
  } finally {
    await pot.dispose();
  }
}

async function main(): Promise<void> {
  const calls500 = Number(process.argv[2] ?? 20);
  const calls5000 = Number(process.argv[3] ?? 5);
  const nullCalc = `${fileURLToPath(new URL('../../../properties/engine-ase-calcs.py', import.meta.url))}:boundary`;
  const rows: OverheadRow[] = [];
  console.log(`load average at start: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  // two atoms: the fixed cost per call (messages, thread and process wake-ups), without per-atom work
  rows.push(await measureOverhead(nullCalc, {}, 3, { dim: 3, positions: Float64Array.of(0, 0, 0, 1.5, 0, 0), cell: null }, calls500));
  for (const [reps, calls] of [
    [[5, 5, 5], calls500],
    [[5, 10, 25], calls5000],
  ] as const) {
    const s = fcc(reps as [number, number, number]);
    rows.push(await measureOverhead(nullCalc, {}, 3, s, calls));
    rows.push(await measureOverhead('ase.calculators.lj:LennardJones', { sigma: 2.3, epsilon: 0.4, rc: 5.0 }, undefined, s, calls));
    // EMT (ASE's pure-Python loop over atoms): the calculator the ase: examples use, ~1 ms per atom per call
    rows.push(await measureOverhead('ase.calculators.emt:EMT', {}, undefined, s, calls));
  }
  for (const r of rows) {
    console.log(
      `${r.calculator.split(':').pop()!.padEnd(14)} ${String(r.atoms).padStart(5)} atoms x ${r.calls}: wall ${r.wallMsPerCall.toFixed(2)} ms/call, ` +
        `calculator ${r.calculatorMsPerCall.toFixed(2)} ms/call, overhead ${r.overheadMsPerCall.toFixed(2)} ms/call`,
    );
  }
  console.log(`load average at end: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) void main();
