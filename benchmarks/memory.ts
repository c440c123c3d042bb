/**
 * Peak memory (resident set size) of energy+forces and of a relaxation at 1e5 and 1e6 atoms (issue 12), each in its
 * own child process so that every peak is that task's alone: fcc Cu (Cu_mishin1.eam.alloy when LAMMPS' potentials
 * are installed, else the built-in 'eam-fcc' model), periodic, reps^3 conventional cells.
 *  - energy+forces: neighbour list (at the cutoff plus the relaxations' default skin) and one evaluation;
 *  - relax: a vacancy cell, the default solver ('auto': preconditioned L-BFGS, AMG preconditioner, then
 *    Newton-Krylov), stopped after a few iterations (memory is reached within them: list, preconditioner, L-BFGS
 *    history, Hessian data). Stopping early is a ConvergenceError, expected here.
 * The child reports its peak RSS (process.resourceUsage().maxRSS) and its RSS before the cell was built (Node, the
 * modules, the potential), so bytes per atom are given both raw and above that base. Linear in N: the bytes per atom
 * above the base do not grow from 1e5 to 1e6 atoms by more than 25% (no super-linear term); the marginal bytes per
 * added atom between the two sizes are reported too (fixed costs the base misses make the small size's figure larger).
 *
 * Writes reports/bench/memory.json and memory.md (atomically) and appends a record to reports/bench/history.jsonl
 * (suite 'memory', filter 'memory'). Usage: npx tsx benchmarks/memory.ts [--quick] [--out reports/bench]
 * (--quick: 1e4 and 1e5 atoms).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { appendRun, provenance, singleShot, type BenchResult } from '../src/bench/history.ts';
import { DEBIAN_POTENTIALS } from '../src/engines/lammps.ts';
import { writeFileAtomic } from '../src/io/atomic.ts';
import { periodicDomain } from '../src/lattice/domain.ts';
import { makeLattice } from '../src/lattice/lattice.ts';
import { buildNeighbourList } from '../src/lattice/neighbours.ts';
import { makePotential } from '../src/potentials/defaults.ts';
import { readEamPotential } from '../src/potentials/eam-table.ts';
import { equilibriumLattice } from '../src/potentials/equilibrium.ts';
import type { SitePotential } from '../src/potentials/types.ts';
import { relax } from '../src/relax/relax.ts';
import { ConvergenceError } from '../src/util/errors.ts';

const A_CU = 3.615;
const MISHIN = join(DEBIAN_POTENTIALS, 'Cu_mishin1.eam.alloy');
const RELAX_ITERATIONS = 4;
const TASKS = ['energy+forces', 'relax'] as const;
type Task = (typeof TASKS)[number];

interface ChildResult {
  task: Task;
  atoms: number;
  potential: string;
  baseRssBytes: number;
  peakRssBytes: number;
  halfPairs: number;
  seconds: number;
  note: string;
}

function potential(): { pot: SitePotential; r0: number; label: string } {
  if (existsSync(MISHIN)) return { pot: readEamPotential(MISHIN, { element: 'Cu' }), r0: A_CU / Math.SQRT2, label: 'Cu_mishin1.eam.alloy' };
  const pot = makePotential('eam-fcc');
  return { pot, r0: equilibriumLattice(pot, 'fcc').lattice.r0, label: 'eam-fcc (built-in)' };
}

/** Child: one task on about `target` atoms; prints one JSON line. */
function child(task: Task, target: number): void {
  const { pot, r0, label } = potential();
  const reps = Math.round(Math.cbrt(target / 4));
  const baseRssBytes = process.memoryUsage().rss;
  const t0 = performance.now();
  const dom = periodicDomain(makeLattice('fcc', r0), task === 'relax' ? 'vacancy' : 'none', 1, pot.cutoff, [reps, reps, reps]);
  const s = dom.structure;
  const n = s.positions.length / 3;
  let halfPairs = 0;
  let note = '';
  if (task === 'energy+forces') {
    const nl = buildNeighbourList(s, 1.3 * pot.cutoff);
    halfPairs = nl.half?.index.length ?? 0;
    const r = pot.evaluate(s, nl);
    note = `E = ${r.energy.toFixed(6)} eV`;
  } else {
    try {
      const r = relax(pot, s, null, { maxIterations: RELAX_ITERATIONS, history: false, tol: 1e-10 });
      note = `converged in ${r.iterations} iterations`;
    } catch (e) {
      const err = e as Error;
      if (!(err instanceof ConvergenceError)) throw e;
      note = `stopped after ${RELAX_ITERATIONS} iterations per stage (ConvergenceError, expected)`;
    }
  }
  const out: ChildResult = {
    task,
    atoms: n,
    potential: label,
    baseRssBytes,
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    halfPairs,
    seconds: (performance.now() - t0) / 1000,
    note,
  };
  console.log(JSON.stringify(out));
}

interface Linearity {
  task: Task;
  smallAtoms: number;
  largeAtoms: number;
  bytesPerAtomSmall: number;
  bytesPerAtomLarge: number;
  /** (peak_large - peak_small) / (N_large - N_small). */
  marginalBytesPerAtom: number;
  ratio: number;
  linear: boolean;
}

function linearity(rows: ChildResult[], sizes: number[]): Linearity[] {
  const perAtom = (r: ChildResult) => (r.peakRssBytes - r.baseRssBytes) / r.atoms;
  return TASKS.map((task) => {
    const [small, large] = sizes.map((a) => rows.find((r) => r.task === task && r.atoms >= 0.9 * a && r.atoms <= 1.1 * a)!);
    const ratio = perAtom(large) / perAtom(small);
    const marginal = (large.peakRssBytes - small.peakRssBytes) / (large.atoms - small.atoms);
    return { task, smallAtoms: small.atoms, largeAtoms: large.atoms, bytesPerAtomSmall: perAtom(small), bytesPerAtomLarge: perAtom(large), marginalBytesPerAtom: marginal, ratio, linear: ratio <= 1.25 };
  });
}

/** memory.md from a report (also re-rendered from memory.json with --render, without rerunning). */
function renderMd(report: { createdAt: string; quick: boolean; provenance: { commit: string | null; dirty: boolean | null; node: string }; relaxIterations: number; rows: ChildResult[]; linearity: Linearity[]; loadAverage: { start: number } }): string {
  const { rows, quick } = report;
  const prov = report.provenance;
  const perAtom = (r: ChildResult) => (r.peakRssBytes - r.baseRssBytes) / r.atoms;
  const mib = (b: number) => (b / 2 ** 20).toFixed(0);
  return [
    '# Peak memory of energy+forces and of a relaxation',
    '',
    `Generated by \`npx tsx benchmarks/memory.ts${quick ? ' --quick' : ''}\` at ${report.createdAt} (commit ${prov.commit ?? '-'}${prov.dirty ? ', uncommitted changes' : ''}), Node ${prov.node}, load average ${report.loadAverage.start.toFixed(2)} at the start. Each row is a separate child process; peak RSS is the child's maxRSS, the base its RSS before the cell was built (Node, modules, potential). Raw numbers: [memory.json](memory.json).`,
    '',
    `fcc Cu, ${rows[0]?.potential}, periodic. energy+forces: neighbour list at 1.3 x cutoff (the relaxations' default skin) and one evaluation. relax: one vacancy, default solver ('auto'), ${report.relaxIterations} iterations per stage.`,
    '',
    '| task | atoms | half-list pairs | peak RSS (MiB) | base (MiB) | bytes/atom above base | bytes/atom raw | time (s) | note |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---|',
    ...rows.map((r) => `| ${r.task} | ${r.atoms} | ${r.halfPairs || '-'} | ${mib(r.peakRssBytes)} | ${mib(r.baseRssBytes)} | ${perAtom(r).toFixed(0)} | ${(r.peakRssBytes / r.atoms).toFixed(0)} | ${r.seconds.toFixed(1)} | ${r.note} |`),
    '',
    '## Linear in N?',
    '',
    'Linear means no super-linear term: the bytes per atom above the base grow by at most 25% from the small to the large size. They may fall (fixed costs the base misses weigh more at the small size); the marginal bytes per added atom between the sizes is the slope.',
    '',
    '| task | bytes/atom above base, small | bytes/atom above base, large | large / small | marginal bytes per added atom | linear (large / small <= 1.25) |',
    '|---|---:|---:|---:|---:|---|',
    ...report.linearity.map((l) => `| ${l.task} | ${l.bytesPerAtomSmall.toFixed(0)} (${l.smallAtoms} atoms) | ${l.bytesPerAtomLarge.toFixed(0)} (${l.largeAtoms} atoms) | ${l.ratio.toFixed(2)} | ${l.marginalBytesPerAtom.toFixed(0)} | ${l.linear ? 'yes' : 'no'} |`),
    '',
  ].join('\n');
}

const argv = process.argv.slice(2);
if (argv.includes('--render')) {
  // Re-render memory.md (and the linearity verdicts) from a memory.json, e.g. after the criterion's wording changed.
  const jsonPath = resolve(argv[argv.indexOf('--render') + 1]);
  const report = JSON.parse(readFileSync(jsonPath, 'utf8'));
  const sizes = report.quick ? [1e4, 1e5] : [1e5, 1e6];
  report.linearity = linearity(report.rows, sizes);
  writeFileAtomic(jsonPath, JSON.stringify(report, null, 1) + '\n');
  writeFileAtomic(join(dirname(jsonPath), 'memory.md'), renderMd(report));
  console.log(`re-rendered ${jsonPath} and memory.md`);
} else if (argv.includes('--child')) {
  child(argv[argv.indexOf('--task') + 1] as Task, Number(argv[argv.indexOf('--atoms') + 1]));
} else {
  const runStart = new Date();
  const load0 = loadavg()[0];
  const prov = provenance();
  const quick = argv.includes('--quick');
  const oi = argv.indexOf('--out');
  const outDir = resolve(oi >= 0 ? argv[oi + 1] : join(process.cwd(), 'reports', 'bench'));
  const sizes = quick ? [1e4, 1e5] : [1e5, 1e6];
  const self = fileURLToPath(import.meta.url);
  const rows: ChildResult[] = [];
  for (const task of TASKS) {
    for (const atoms of sizes) {
      // tsx as a loader of a plain node child: the child's peak is its own, not the parent's
      const r = spawnSync(process.execPath, ['--max-old-space-size=16384', '--import', 'tsx', self, '--child', '--task', task, '--atoms', String(atoms)], {
        encoding: 'utf8',
        maxBuffer: 1 << 24,
      });
      if (r.status !== 0) throw new Error(`memory child (${task}, ${atoms}) failed with status ${r.status}: ${r.stderr.slice(-2000)}`);
      const row = JSON.parse(r.stdout.trim().split('\n').pop()!) as ChildResult;
      rows.push(row);
      console.log(
        `${task} ${row.atoms} atoms: peak RSS ${(row.peakRssBytes / 2 ** 20).toFixed(0)} MiB (base ${(row.baseRssBytes / 2 ** 20).toFixed(0)} MiB), ${((row.peakRssBytes - row.baseRssBytes) / row.atoms).toFixed(0)} bytes/atom above base, ${row.seconds.toFixed(1)} s; ${row.note}`,
      );
    }
  }
  const perAtom = (r: ChildResult) => (r.peakRssBytes - r.baseRssBytes) / r.atoms;
  const lin = linearity(rows, sizes);
  const report = { schemaVersion: 1, createdAt: new Date().toISOString(), quick, provenance: { ...prov, cpuCount: cpus().length }, relaxIterations: RELAX_ITERATIONS, rows, linearity: lin, loadAverage: { start: load0, end: loadavg()[0] } };
  writeFileAtomic(join(outDir, 'memory.json'), JSON.stringify(report, null, 1) + '\n');
  writeFileAtomic(join(outDir, 'memory.md'), renderMd(report));
  const results: BenchResult[] = rows.map((r) =>
    singleShot('memory', `${r.task} ${r.atoms} atoms peak RSS`, 1000 * r.seconds, {
      peakRssBytes: r.peakRssBytes, baseRssBytes: r.baseRssBytes, bytesPerAtomAboveBase: perAtom(r), halfPairs: r.halfPairs, potential: r.potential, note: r.note,
    }),
  );
  appendRun(join(outDir, 'history.jsonl'), { runStart, prov, quick, filter: 'memory', results });
  for (const l of lin) console.log(`${l.task}: ${l.bytesPerAtomSmall.toFixed(0)} -> ${l.bytesPerAtomLarge.toFixed(0)} bytes/atom above base, ratio ${l.ratio.toFixed(2)} (${l.linear ? 'linear' : 'NOT linear'})`);
  console.log(`wrote ${join(outDir, 'memory.json')} and memory.md; appended a record to history.jsonl`);
}
