import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Structure } from '../lattice/structure.ts';
import { EngineError } from '../engines/errors.ts';
import { ParameterError } from '../util/errors.ts';

/**
 * LAMMPS run directly on a file (no socket): one input script per call, `read_data` of an orthorhombic periodic
 * structure written at 17 significant digits, and results read back from the log (thermo at %.17g) and a dump of
 * per-atom forces. Used by the LAMMPS cross-check (benchmarks/lammps-crosscheck.ts), which needs what the socket
 * engine (src/engines/lammps.ts) cannot give: LAMMPS' own timings and its own minimiser's iteration counts.
 * Orthorhombic cells only (the cross-check uses cubic fcc cells): the data file is then exactly our coordinates.
 */
export interface LammpsDirectOptions {
  lmp: string;
  /** pair_style and pair_coeff lines, e.g. ['pair_style eam', 'pair_coeff 1 1 /path/Cu_u3.eam']. */
  potential: string[];
  /** Steps of `run` with no integrator (atoms do not move): LAMMPS' per-step force time. Default 0. */
  steps?: number;
  /**
   * Thermo output every this many steps (`thermo N`). LAMMPS tallies the energy and the virial only on steps with
   * thermo output (its default, 0, is the first and last step only), so 1 makes every step compute energy, forces and
   * virial, as our evaluate() does. Default: LAMMPS' default.
   */
  thermoEvery?: number;
  /** Minimise with min_style cg (default) or fire to ||F||_2 <= ftol (LAMMPS' force criterion is the 2-norm of the
   * global force). FIRE runs with LAMMPS' defaults (metal timestep 1 fs, its own dtmax/dtmin rules). */
  minimize?: { ftol: number; maxIterations?: number; style?: 'cg' | 'fire' };
  /** Write the per-atom forces (and positions) of the final configuration. Default true. */
  dump?: boolean;
  timeoutMs?: number;
}

export interface LammpsDirectResult {
  energy: number;
  /** Virial W = P V / nktv2p (metal units), row-major 3x3, sign as ours. */
  virial: Float64Array;
  forces: Float64Array;
  positions: Float64Array;
  fmax: number;
  /** LAMMPS' "Loop time" of the last run/minimize (s) and its Pair share (avg over procs). */
  loopSeconds: number;
  pairSeconds: number;
  /** LAMMPS' "% CPU use" of that loop (below 100 when the machine is loaded: loopSeconds * cpuPercent / 100 is the
   * CPU time it got). NaN when the log has none. */
  cpuPercent: number;
  minimize?: { iterations: number; forceEvaluations: number; stoppingCriterion: string };
  /** Wall time of the whole process (start-up, reading the potential, setup included). */
  processSeconds: number;
  log: string;
}

/** nktv2p of LAMMPS metal units (pressure * volume -> eV). */
const NKTV2P_METAL = 1.6021765e6;

function orthoData(s: Structure): string {
  if (s.dim !== 3 || !s.cell) throw new ParameterError('LAMMPS direct runs need a 3D periodic structure');
  const c = s.cell;
  if (c[1] !== 0 || c[2] !== 0 || c[3] !== 0 || c[5] !== 0 || c[6] !== 0 || c[7] !== 0) {
    throw new ParameterError('LAMMPS direct runs need an orthorhombic cell (axis-aligned)');
  }
  const L = [c[0], c[4], c[8]];
  const n = s.positions.length / 3;
  const lo = [Infinity, Infinity, Infinity];
  for (let i = 0; i < n; i++) for (let a = 0; a < 3; a++) lo[a] = Math.min(lo[a], s.positions[3 * i + a]);
  const g = (x: number) => x.toPrecision(17);
  const lines = ['mlip-verify LAMMPS cross-check', '', `${n} atoms`, '1 atom types', ''];
  for (let a = 0; a < 3; a++) lines.push(`${g(lo[a])} ${g(lo[a] + L[a])} ${'xyz'[a]}lo ${'xyz'[a]}hi`);
  lines.push('', 'Masses', '', '1 63.546', '', 'Atoms # atomic', '');
  for (let i = 0; i < n; i++) {
    const x = [0, 1, 2].map((a) => s.positions[3 * i + a]);
    lines.push(`${i + 1} 1 ${g(x[0])} ${g(x[1])} ${g(x[2])}`);
  }
  lines.push('');
  return lines.join('\n');
}

export function runLammpsDirect(s: Structure, opts: LammpsDirectOptions): LammpsDirectResult {
  const dir = mkdtempSync(join(tmpdir(), 'mlipv-lmp-direct-'));
  try {
    const data = join(dir, 'data');
    const dump = join(dir, 'dump');
    const log = join(dir, 'log');
    const input = join(dir, 'in');
    writeFileSync(data, orthoData(s));
    const dumpLines =
      opts.dump === false
        ? []
        : [`dump d all custom 1 ${dump} id x y z fx fy fz`, 'dump_modify d format float %.17g sort id'];
    const body = opts.minimize
      ? [
          `min_style ${opts.minimize.style ?? 'cg'}`,
          `minimize 0 ${opts.minimize.ftol} ${opts.minimize.maxIterations ?? 100000} ${10 * (opts.minimize.maxIterations ?? 100000)}`,
          ...(opts.dump === false ? [] : [...dumpLines, 'run 0']),
        ]
      : [...dumpLines, `run ${opts.steps ?? 0}`];
    writeFileSync(
      input,
      [
        'units metal',
        'atom_style atomic',
        'boundary p p p',
        'atom_modify map array',
        `read_data ${data}`,
        ...opts.potential,
        'neighbor 1.0 bin',
        'neigh_modify every 1 delay 0 check yes',
        'thermo_style custom step pe pxx pyy pzz pxy pxz pyz vol fmax',
        ...(opts.thermoEvery !== undefined ? [`thermo ${opts.thermoEvery}`] : []),
        'thermo_modify format float %.17g',
        ...body,
        '',
      ].join('\n'),
    );
    const t0 = performance.now();
    const r = spawnSync(opts.lmp, ['-in', input, '-log', log, '-screen', 'none'], {
      cwd: dir,
      encoding: 'utf8',
      timeout: opts.timeoutMs ?? 600_000,
      env: { ...process.env, OMP_NUM_THREADS: '1', OMPI_ALLOW_RUN_AS_ROOT: '1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1' },
    });
    const processSeconds = (performance.now() - t0) / 1000;
    let text = '';
    try {
      text = readFileSync(log, 'utf8');
    } catch {
      /* no log: reported below */
    }
    const err = /ERROR[^\n]*/.exec(text)?.[0];
    if (r.status !== 0 || err) {
      throw new EngineError('config', `LAMMPS run failed: ${err ?? r.error?.message ?? (r.stderr || `exit ${r.status}`)}`, { log: text.slice(-2000) });
    }
    const lines = text.split('\n');
    const hdr = lines.map((l, i) => [l, i] as const).filter(([l]) => /^\s*Step\s+PotEng/.test(l)).pop();
    if (!hdr) throw new EngineError('config', 'no thermo output in the LAMMPS log');
    // the last thermo row of the last run: the row before "Loop time"
    let k = hdr[1] + 1;
    while (k + 1 < lines.length && /^\s*\d+\s/.test(lines[k + 1])) k++;
    const [pe, pxx, pyy, pzz, pxy, pxz, pyz, vol, fmax] = lines[k].trim().split(/\s+/).map(Number).slice(1);
    const W = [pxx, pxy, pxz, pxy, pyy, pyz, pxz, pyz, pzz].map((p) => (p * vol) / NKTV2P_METAL);
    const loops = [...text.matchAll(/Loop time of ([0-9.eE+-]+)/g)].map((m) => Number(m[1]));
    const cpuUse = [...text.matchAll(/^\s*([0-9.]+)% CPU use/gm)].map((m) => Number(m[1]));
    const pairs = [...text.matchAll(/^Pair\s*\|\s*([0-9.eE+-]+)\s*\|\s*([0-9.eE+-]+)/gm)].map((m) => Number(m[2]));
    // with minimize + run 0, the minimiser's loop is the second to last
    const li = opts.minimize && opts.dump !== false ? loops.length - 2 : loops.length - 1;
    let minimize: LammpsDirectResult['minimize'];
    if (opts.minimize) {
      const it = /Iterations, force evaluations\s*=\s*(\d+)\s+(\d+)/.exec(text);
      const sc = /Stopping criterion\s*=\s*([^\n]*)/.exec(text);
      minimize = { iterations: Number(it?.[1]), forceEvaluations: Number(it?.[2]), stoppingCriterion: sc?.[1]?.trim() ?? '?' };
    }
    let forces = new Float64Array(0);
    let positions = new Float64Array(0);
    if (opts.dump !== false) {
      const dl = readFileSync(dump, 'utf8').trim().split('\n');
      const at = dl.map((l, i) => [l, i] as const).filter(([l]) => l.startsWith('ITEM: ATOMS')).pop()![1];
      const rows = dl.slice(at + 1).map((l) => l.trim().split(/\s+/).map(Number));
      forces = Float64Array.from(rows.flatMap((q) => [q[4], q[5], q[6]]));
      positions = Float64Array.from(rows.flatMap((q) => [q[1], q[2], q[3]]));
    }
    return {
      energy: pe,
      virial: Float64Array.from(W),
      forces,
      positions,
      fmax,
      loopSeconds: loops[li] ?? NaN,
      pairSeconds: pairs[li] ?? NaN,
      cpuPercent: cpuUse[li] ?? NaN,
      minimize,
      processSeconds,
      log: text,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
