import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import type { NeighbourList } from '../lattice/neighbours.ts';
import { atomCount, type Structure } from '../lattice/structure.ts';
import type { EvalResult, SitePotential } from '../potentials/types.ts';
import { EngineError } from './errors.ts';
import { DEFAULT_FD, IpiPotential } from './ipi/engine.ts';
import { embed } from './ipi/geometry.ts';
import { unitSystem, type UnitSystem } from './ipi/units.ts';

/**
 * LAMMPS as an external engine, driven through `fix ipi` (LAMMPS is the i-PI client, we are the server).
 *
 * What the user gives is the potential, as LAMMPS commands: a pair_style line and pair_coeff lines, or a file of
 * them (the `.snap`/`.mliap` include files that lammps-data ships are exactly that). We write the rest of the input:
 * one atom type, `boundary p p p`, a data file with the first structure, and `fix ipi` + a long `run`. Each i-PI
 * evaluation is one LAMMPS step: fix ipi replaces box and positions, LAMMPS computes, fix ipi sends energy, forces and
 * the virial (from `compute pressure ... virial`, i.e. without the kinetic part).
 *
 * `fix ipi` fixes the atom count at its first POSDATA ("Number of atoms changed along the way" otherwise), so one
 * LAMMPS process serves one atom count; this class keeps a small pool of processes keyed by atom count.
 *
 * Units: LAMMPS converts with its own constants (see units.ts, 'lammps-metal'), which we mirror so that positions
 * and results round-trip exactly; the interaction cutoff is read from LAMMPS itself (its neighbour-list cutoff minus
 * the skin we set) unless given.
 */
export interface LammpsEngineOptions {
  /** `pair_style` arguments, e.g. 'eam/alloy'. Omit when `include` is given. */
  pairStyle?: string;
  /** `pair_coeff` arguments, e.g. ['* * Cu_mishin1.eam.alloy Cu']. */
  pairCoeff?: string[];
  /** A LAMMPS file with pair_style/pair_coeff lines (e.g. /usr/share/lammps/potentials/Ni_Zuo_JPCA2020.snap). */
  include?: string;
  /** LAMMPS units style: 'metal' (default: Angstrom, eV) or 'real'. */
  lammpsUnits?: 'metal' | 'real';
  /** Atom mass (irrelevant to energies and forces; LAMMPS insists on one). */
  mass?: number;
  /**
   * Atom types LAMMPS declares (default 1). Every atom is type 1; the others exist for potentials that must map
   * several elements at once (an explicit multi-element SNAP, chemflag 1, sizes its descriptors by the elements its
   * pair_coeff names and rejects a one-element mapping), so one element of them is studied as type 1.
   */
  atomTypes?: number;
  /** Interaction cutoff (engine length). Default: asked from LAMMPS (neighbour cutoff minus skin). */
  cutoff?: number;
  /**
   * The LAMMPS binary, or a command that runs it, with arguments separated by spaces (quotes group words), e.g.
   * 'mpirun -np 2 lmp' for an MPI-parallel LAMMPS (`fix ipi` talks to rank 0, which scatters the atoms). Default:
   * $MLIP_VERIFY_LMP, else lmp / lmp_serial / lmp_stable / lmp_mpi on PATH.
   */
  lmp?: string;
  /** Timeouts for each evaluation and for LAMMPS to connect (ms). */
  responseTimeoutMs?: number;
  acceptTimeoutMs?: number;
  /** How many LAMMPS processes (distinct atom counts) to keep alive at once. */
  poolSize?: number;
  /** Keep the work directory (input, data and log files) for inspection. */
  keepFiles?: boolean;
  name?: string;
}

/** Where LAMMPS is installed (an absolute path: LAMMPS runs in its own work directory), or null. */
export function findLammps(explicit?: string): string | null {
  const cands = explicit ? [explicit] : [process.env.MLIP_VERIFY_LMP, 'lmp', 'lmp_serial', 'lmp_stable', 'lmp_mpi'].filter((x): x is string => !!x);
  for (const c of cands) {
    if (c.includes('/')) {
      if (existsSync(c)) return resolve(c);
      continue;
    }
    for (const dir of (process.env.PATH ?? '').split(delimiter)) {
      const p = join(dir, c);
      if (dir && existsSync(p)) return resolve(p);
    }
  }
  return null;
}

/**
 * Words of a command line: split at unquoted whitespace; '...' and "..." group words (no escapes, no expansion: the
 * words go to spawn, never to a shell).
 */
export function splitCommand(cmd: string): string[] {
  const words: string[] = [];
  let cur = '';
  let has = false;
  let quote: string | null = null;
  for (const ch of cmd) {
    if (quote) {
      if (ch === quote) quote = null;
      else cur += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      has = true;
    } else if (/\s/.test(ch)) {
      if (has) words.push(cur);
      cur = '';
      has = false;
    } else {
      cur += ch;
      has = true;
    }
  }
  if (quote) throw new EngineError('config', `LAMMPS command has an unclosed ${quote} quote: ${cmd}`);
  if (has) words.push(cur);
  return words;
}

/**
 * The command that runs LAMMPS, as [program, ...args]: a bare binary name or path as findLammps resolves it, or a
 * command with arguments ('mpirun -np 2 lmp') whose program is looked up on PATH; null when the program is not found.
 */
export function lammpsCommand(explicit?: string): string[] | null {
  // a path that exists is a binary, spaces in it or not
  if (explicit !== undefined && explicit.includes('/') && existsSync(explicit)) return [resolve(explicit)];
  const words = explicit === undefined ? [] : splitCommand(explicit);
  if (words.length <= 1) {
    const lmp = findLammps(words[0]);
    return lmp ? [lmp] : null;
  }
  const prog = findLammps(words[0]);
  return prog ? [prog, ...words.slice(1)] : null;
}

/** Where scripts/build-lammps-snap.sh caches its build: outside any clone, so a machine builds it once. */
export function snapCacheLink(): string {
  const base = process.env.MLIP_VERIFY_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'mlip-verify');
  return join(base, 'lammps-snap', 'bin', 'lmp');
}

/** Whether an lmp binary lists ML-SNAP among its installed packages. */
export function lammpsHasSnap(lmp: string): boolean {
  const r = spawnSync(lmp, ['-h'], { encoding: 'utf8', timeout: 30_000 });
  return /Installed packages:[\s\S]*?ML-SNAP/.test(r.stdout ?? '');
}

/**
 * A LAMMPS binary with ML-SNAP (the Debian lmp lacks it): $MLIP_VERIFY_LMP_SNAP, the cached build of
 * scripts/build-lammps-snap.sh, a build left in the clone's .cache/ by older versions of that script, then the lmp on
 * PATH. Null when none has it.
 */
export function findSnapLammps(repoRoot?: string): string | null {
  const cands = [process.env.MLIP_VERIFY_LMP_SNAP, snapCacheLink(), repoRoot ? join(repoRoot, '.cache', 'lammps-snap', 'bin', 'lmp') : undefined, findLammps() ?? undefined];
  for (const c of cands) if (c && existsSync(c) && lammpsHasSnap(c)) return resolve(c);
  return null;
}

/** Default potentials directory of the Debian/Ubuntu lammps-data package. */
export const DEBIAN_POTENTIALS = '/usr/share/lammps/potentials';

/** The neighbour skin we set; LAMMPS reports cutoff + skin as "master list distance cutoff". */
const SKIN = 1.0;
let seq = 0;

export class LammpsPotential implements SitePotential {
  readonly name: string;
  readonly cutoff: number;
  /** The engine finds its own neighbours (SitePotential.ignoresNeighbourList). */
  readonly ignoresNeighbourList = true;
  readonly units: UnitSystem;
  /** The LAMMPS command as given (binary path, or e.g. 'mpirun -np 2 lmp' with mpirun resolved). */
  readonly lmp: string;
  private readonly command: string[];
  private readonly dir: string;
  private readonly pool = new Map<number, IpiPotential>();
  private readonly order: number[] = [];
  private closed = false;
  private readonly potentialLines: string[];
  /** Evaluations over all LAMMPS processes, and how many processes were started. */
  processesStarted = 0;

  constructor(private readonly opts: LammpsEngineOptions) {
    const command = lammpsCommand(opts.lmp);
    if (!command) {
      throw new EngineError('spawn', `LAMMPS not found (tried ${opts.lmp ?? '$MLIP_VERIFY_LMP, lmp, lmp_serial, lmp_stable, lmp_mpi'}); install it with scripts/install-lammps.sh`);
    }
    this.command = command;
    this.lmp = command.join(' ');
    const u = opts.lammpsUnits ?? 'metal';
    if (u !== 'metal' && u !== 'real') throw new EngineError('config', `LAMMPS units '${u}' not supported (metal or real)`);
    this.units = unitSystem(`lammps-${u}`);
    if (opts.include) {
      if (!existsSync(opts.include)) throw new EngineError('config', `LAMMPS potential include file not found: ${opts.include}`);
      this.potentialLines = [`include ${opts.include}`];
    } else {
      if (!opts.pairStyle) throw new EngineError('config', 'LAMMPS engine needs a pair_style (or an include file)');
      this.potentialLines = [`pair_style ${opts.pairStyle}`, ...(opts.pairCoeff ?? ['* *']).map((c) => `pair_coeff ${c}`)];
    }
    this.dir = mkdtempSync(join(tmpdir(), 'mlipv-lammps-'));
    try {
      this.cutoff = opts.cutoff ?? this.probeCutoff();
    } catch (e) {
      // A rejected potential leaves no work directory behind.
      rmSync(this.dir, { recursive: true, force: true });
      throw e;
    }
    this.name = opts.name ?? `lammps:${opts.include ?? [opts.pairStyle, ...(opts.pairCoeff ?? [])].join(';')}`;
  }

  private env(): Record<string, string> {
    // Let bare file names in pair_coeff resolve against the packaged potentials, as LAMMPS documents.
    const env: Record<string, string> = {};
    if (!process.env.LAMMPS_POTENTIALS && existsSync(DEBIAN_POTENTIALS)) env.LAMMPS_POTENTIALS = DEBIAN_POTENTIALS;
    // Open MPI refuses to start as root without these; harmless otherwise.
    env.OMPI_ALLOW_RUN_AS_ROOT = '1';
    env.OMPI_ALLOW_RUN_AS_ROOT_CONFIRM = '1';
    // Under mpirun, the ranks waiting in fix ipi's broadcast while we compute the next step spin at full speed and
    // take the cores our solver needs (measured: 2 ranks slower than 1 on 2 cores); yielding lets it run.
    if (process.env.OMPI_MCA_mpi_yield_when_idle === undefined) env.OMPI_MCA_mpi_yield_when_idle = '1';
    return env;
  }

  private get atomTypes(): number {
    const t = this.opts.atomTypes ?? 1;
    if (!Number.isInteger(t) || t < 1) throw new EngineError('config', `LAMMPS atomTypes must be a positive integer, got ${t}`);
    return t;
  }

  /** One mass per declared type (all atoms are type 1; LAMMPS wants a mass for every type). */
  private massLines(): string[] {
    return Array.from({ length: this.atomTypes }, (_, i) => `mass ${i + 1} ${this.opts.mass ?? 1}`);
  }

  private header(): string[] {
    return [
      `units ${this.opts.lammpsUnits ?? 'metal'}`,
      'atom_style atomic',
      'boundary p p p',
      'atom_modify map array',
    ];
  }

  /** Run LAMMPS once on one atom to validate the potential and read its cutoff (neighbour cutoff - skin). */
  private probeCutoff(): number {
    const input = join(this.dir, 'in.probe');
    const log = join(this.dir, 'log.probe');
    writeFileSync(
      input,
      [
        ...this.header(),
        'region box block 0 40 0 40 0 40',
        `create_box ${this.atomTypes} box`,
        'create_atoms 1 single 20 20 20',
        ...this.massLines(),
        ...this.potentialLines,
        `neighbor ${SKIN} bin`,
        'run 0',
        '',
      ].join('\n'),
    );
    const r = spawnSync(this.command[0], [...this.command.slice(1), '-in', input, '-log', log, '-screen', 'none'], {
      cwd: this.dir,
      env: { ...process.env, ...this.env() },
      timeout: 120_000,
      encoding: 'utf8',
    });
    const text = existsSync(log) ? readFileSync(log, 'utf8') : '';
    const err = /ERROR[^\n]*/.exec(text)?.[0] ?? r.error?.message ?? (r.stderr || '').trim();
    if (r.status !== 0 || err.startsWith('ERROR')) {
      throw new EngineError('config', `LAMMPS rejected the potential (${this.potentialLines.join(' | ')}): ${err || `exit code ${r.status}`}`, {
        lmp: this.lmp,
        log: text.slice(-2000),
      });
    }
    const m = /master list distance cutoff = ([0-9.eE+-]+)/.exec(text);
    if (!m) throw new EngineError('config', 'could not read the interaction cutoff from the LAMMPS log; pass it explicitly (cutoff)');
    return Number(m[1]) - SKIN;
  }

  describe(): Record<string, unknown> {
    return {
      kind: 'lammps',
      name: this.name,
      lmp: this.lmp,
      potential: this.potentialLines,
      units: this.units.name,
      cutoff: this.cutoff,
      hessianVector: { method: `${DEFAULT_FD.scheme} finite differences of forces`, step: DEFAULT_FD.stepPerCutoff * this.cutoff },
      siteEnergies: false,
      // Unknown for an external code, so the weakest assumption: a plain float64 sum of its energy terms.
      energySummation: 'plain',
      processesStarted: this.processesStarted,
      evaluations: this.evaluations,
    };
  }

  get evaluations(): number {
    let n = 0;
    for (const p of this.pool.values()) n += p.evaluations;
    return n + this.retiredEvaluations;
  }
  private retiredEvaluations = 0;

  /** The LAMMPS process for this atom count, started on first use with s as its initial configuration. */
  private engineFor(s: Structure): IpiPotential {
    if (this.closed) throw new EngineError('closed', `engine ${this.name} is closed`);
    const n = atomCount(s);
    const have = this.pool.get(n);
    if (have) {
      this.order.splice(this.order.indexOf(n), 1);
      this.order.push(n);
      return have;
    }
    while (this.pool.size >= (this.opts.poolSize ?? 3)) {
      const old = this.order.shift()!;
      const p = this.pool.get(old)!;
      this.retiredEvaluations += p.evaluations;
      p.close();
      this.pool.delete(old);
    }
    const id = `mlipv${process.pid}x${seq++}x${Math.random().toString(36).slice(2, 8)}`;
    const data = join(this.dir, `data.${n}`);
    const input = join(this.dir, `in.${n}`);
    const log = join(this.dir, `log.${n}`);
    writeFileSync(data, dataFile(s, this.units, this.cutoff, this.atomTypes));
    writeFileSync(
      input,
      [
        ...this.header(),
        `read_data ${data}`,
        ...this.massLines(),
        ...this.potentialLines,
        `neighbor ${SKIN} bin`,
        'neigh_modify every 1 delay 0 check yes',
        'thermo_style custom step pe',
        'thermo 0',
        // fix ipi unix mode connects to /tmp/ipi_<name>
        `fix mlipv all ipi ${id} 31415 unix`,
        'run 2000000000',
        '',
      ].join('\n'),
    );
    const eng = new IpiPotential({
      name: `${this.name}#${n}`,
      units: this.units,
      cutoff: this.cutoff,
      server: {
        unixPath: `/tmp/ipi_${id}`,
        acceptTimeoutMs: this.opts.acceptTimeoutMs ?? 60_000,
        responseTimeoutMs: this.opts.responseTimeoutMs ?? 120_000,
      },
      launch: { command: this.command[0], args: [...this.command.slice(1), '-in', input, '-log', log, '-screen', 'none'], cwd: this.dir, env: this.env(), logFile: log },
    });
    this.processesStarted++;
    this.pool.set(n, eng);
    this.order.push(n);
    return eng;
  }

  evaluate(s: Structure, nl?: NeighbourList): EvalResult {
    return this.engineFor(s).evaluate(s, nl);
  }

  hessianVector(s: Structure, nl: NeighbourList, v: Float64Array): Float64Array {
    return this.engineFor(s).hessianVector(s, nl, v);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pool.values()) {
      this.retiredEvaluations += p.evaluations;
      p.close();
    }
    this.pool.clear();
    if (!this.opts.keepFiles) rmSync(this.dir, { recursive: true, force: true });
  }

  async dispose(): Promise<void> {
    const ps = [...this.pool.values()];
    this.close();
    await Promise.all(ps.map((p) => p.dispose()));
  }

  get workDir(): string {
    return this.dir;
  }
}

/**
 * A LAMMPS data file holding s as LAMMPS will first see it: the i-PI embedding (same box and orientation fix ipi
 * will set, box from -h/2 to h/2 as fix ipi places it), atoms wrapped into the box, a triclinic box always (fix ipi
 * can only change tilt factors of a box that was created triclinic). Only the setup step sees these positions.
 */
export function dataFile(s: Structure, units: UnitSystem, cutoff: number, atomTypes = 1): string {
  const e = embed(s, units, { cutoff });
  const n = e.n;
  const h = e.frame.cellH.map((x) => x * units.bohr); // back to Angstrom; h[3i+j] = comp i of vector j
  const ih = e.frame.cellIH.map((x) => x / units.bohr);
  const [lx, ly, lz, xy, xz, yz] = [h[0], h[4], h[8], h[1], h[2], h[5]];
  const lo = [-lx / 2, -ly / 2, -lz / 2];
  const lines = [
    'mlip-verify i-PI engine: initial configuration (fix ipi replaces it every step)',
    '',
    `${n} atoms`,
    `${atomTypes} atom types`,
    '',
    `${lo[0]} ${-lo[0]} xlo xhi`,
    `${lo[1]} ${-lo[1]} ylo yhi`,
    `${lo[2]} ${-lo[2]} zlo zhi`,
    `${xy} ${xz} ${yz} xy xz yz`,
    '',
    'Atoms # atomic',
    '',
  ];
  for (let p = 0; p < n; p++) {
    const x = [0, 1, 2].map((i) => e.frame.positions[3 * p + i] * units.bohr - lo[i]);
    // fractional coordinates, wrapped into [0, 1)
    const f = [0, 1, 2].map((i) => {
      const t = ih[3 * i] * x[0] + ih[3 * i + 1] * x[1] + ih[3 * i + 2] * x[2];
      const w = t - Math.floor(t);
      return w >= 1 ? 0 : w;
    });
    const y = [0, 1, 2].map((i) => lo[i] + h[3 * i] * f[0] + h[3 * i + 1] * f[1] + h[3 * i + 2] * f[2]);
    lines.push(`${p + 1} 1 ${y[0]} ${y[1]} ${y[2]}`);
  }
  lines.push('');
  return lines.join('\n');
}
