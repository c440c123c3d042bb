import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NeighbourList } from '../../lattice/neighbours.ts';
import type { Structure } from '../../lattice/structure.ts';
import type { EvalResult, SitePotential } from '../../potentials/types.ts';
import { EngineError, type EngineFailure } from '../errors.ts';
import { DEFAULT_FD, IpiPotential } from '../ipi/engine.ts';
import type { UnitSystem } from '../ipi/units.ts';

/** The client mlip-verify ships: serves any ASE calculator over i-PI, for any atom count, cell and boundary. */
export const ASE_CLIENT = fileURLToPath(new URL('./client.py', import.meta.url));

export interface AseEngineOptions {
  /** `<module>:<callable>` (or `<file.py>:<callable>`): the callable returns an ASE calculator. */
  calc: string;
  /** Keyword arguments of the callable (JSON-serialisable). */
  args?: Record<string, unknown>;
  /** Python interpreter. Default: $MLIP_VERIFY_PYTHON, else the first of python3, /usr/bin/python3 that imports ASE. */
  python?: string;
  /** Chemical symbol of the atoms (the i-PI protocol carries no species). Default: the calculator's only element
   * (ase.calculators.eam.EAM knows it from its file), else Cu. */
  element?: string;
  /** Interaction cutoff (Angstrom). Default: what the calculator says (EMT rc_list, LJ rc, Morse rcut2, EAM cutoff,
   * attributes cutoff / r_max / rc of other calculators); an error if it says nothing. */
  cutoff?: number;
  /** Time allowed for Python to import the calculator and evaluate a dimer (the probe), and to connect. */
  startupTimeoutMs?: number;
  /** Time allowed for one evaluation. */
  responseTimeoutMs?: number;
  name?: string;
}

/** What the probe (`client.py --probe`) reports about the interpreter and the calculator. */
export interface AseProbe {
  python: string;
  pythonVersion: string;
  ase: string;
  numpy: string;
  calculator: string;
  implemented: string[];
  stress: boolean;
  cutoff: number | null;
  cutoffSource: string | null;
  element: string;
  elementSource: string;
  bohr: number;
  hartree: number;
}

const MARK = 'MLIPV-ERROR ';
const PROBE = 'MLIPV-PROBE ';
const CLIENT_KINDS: readonly EngineFailure[] = [
  'ase-missing',
  'calculator-not-found',
  'calculator-error',
  'bad-size',
  'config',
  'unexpected-message',
  'disconnected',
];

/** A typed failure the client reported (error file first: it cannot be lost in a pipe; else its stderr line). */
function clientFailure(errorFile: string | null, output: string): { kind: EngineFailure; message: string } | null {
  let text: string | null = null;
  if (errorFile && existsSync(errorFile)) text = readFileSync(errorFile, 'utf8');
  else {
    const line = output.split('\n').reverse().find((l) => l.startsWith(MARK));
    if (line) text = line.slice(MARK.length);
  }
  if (!text) return null;
  try {
    const d = JSON.parse(text) as { kind: string; message: string };
    const kind = CLIENT_KINDS.includes(d.kind as EngineFailure) ? (d.kind as EngineFailure) : 'calculator-error';
    return { kind, message: String(d.message) };
  } catch {
    return null;
  }
}

/** Interpreters to try, in order: an explicit one alone, else $MLIP_VERIFY_PYTHON, python3, /usr/bin/python3. */
export function pythonCandidates(explicit?: string): string[] {
  if (explicit) return [explicit];
  const c = [process.env.MLIP_VERIFY_PYTHON, 'python3', '/usr/bin/python3'].filter((x): x is string => !!x);
  return [...new Set(c)];
}

/**
 * Import the calculator in Python and evaluate a dimer once: every startup failure (no Python, no ASE, no such
 * module or callable, a factory or calculator that raises) becomes a typed EngineError here, before any socket.
 * Without an explicit interpreter, candidates lacking ASE are skipped (a pyenv `python3` first on PATH often does).
 */
export function probeAse(o: Pick<AseEngineOptions, 'calc' | 'args' | 'python' | 'element' | 'startupTimeoutMs'>): AseProbe {
  const tried: string[] = [];
  let last: EngineError | null = null;
  for (const py of pythonCandidates(o.python)) {
    const args = [ASE_CLIENT, '--calc', o.calc, '--args', JSON.stringify(o.args ?? {}), '--probe'];
    if (o.element) args.push('--element', o.element);
    const timeout = o.startupTimeoutMs ?? 120_000;
    const r = spawnSync(py, args, { encoding: 'utf8', timeout, killSignal: 'SIGKILL', maxBuffer: 1 << 24 });
    const err = r.error as NodeJS.ErrnoException | undefined;
    if (err?.code === 'ENOENT') {
      tried.push(`${py}: not found`);
      last = new EngineError('python-missing', `Python interpreter '${py}' not found`, { python: py });
      continue;
    }
    if (err?.code === 'ETIMEDOUT' || (r.signal === 'SIGKILL' && r.status === null)) {
      throw new EngineError('timeout', `${py} did not import and evaluate ${o.calc} within ${timeout} ms`, { python: py, timeoutMs: timeout });
    }
    if (err) throw new EngineError('python-missing', `cannot run Python interpreter '${py}': ${err.message}`, { python: py });
    const out = `${r.stdout ?? ''}\n${r.stderr ?? ''}`;
    const line = (r.stdout ?? '').split('\n').find((l) => l.startsWith(PROBE));
    if (r.status === 0 && line) return JSON.parse(line.slice(PROBE.length)) as AseProbe;
    const f = clientFailure(null, out);
    if (f?.kind === 'ase-missing') {
      tried.push(`${py}: ${f.message}`);
      last = new EngineError('ase-missing', f.message, { python: py });
      continue;
    }
    if (f) throw new EngineError(f.kind, `ase:${o.calc}: ${f.message}`, { python: py });
    throw new EngineError('calculator-error', `ase:${o.calc}: ${py} exited with ${r.status ?? r.signal} before reporting the calculator:\n${out.trim().slice(-2000)}`, {
      python: py,
    });
  }
  if (tried.length === 1 && last) throw last;
  const allMissing = tried.every((t) => t.endsWith('not found'));
  throw new EngineError(
    allMissing ? 'python-missing' : 'ase-missing',
    `no Python interpreter with ASE found (tried ${tried.join('; ')}); install ASE (Debian: scripts/install-ase.sh) or pass --python`,
    { tried },
  );
}

let seq = 0;

/**
 * An ASE calculator as a SitePotential: mlip-verify starts Python on the shipped client (client.py), which imports
 * the calculator and serves it over a UNIX socket to our i-PI server (IpiPotential), for any atom count, cell and
 * boundary. Units are the client's own ase.units (Bohr, Ha), read by the probe, so the round trip is exact.
 *
 * - Virial: W = -V * stress (ASE's stress is (1/V) dE/d(strain); our and i-PI's virial is -dE/d(strain)), when the
 *   calculator implements stress. When it does not, every virial component is NaN (any use fails loudly) and
 *   describe().virial is false, so the virial check skips with that reason instead of passing.
 * - Open clusters go out as pbc=False (the INIT string of each frame carries the boundary, see IpiEngineOptions.
 *   announceBoundary); 2D structures as pbc (T, T, F).
 * - Faults are typed EngineErrors: see probeAse for startup; during a run the client's own report (calculator
 *   raised, results of the wrong shape) replaces the bare 'client-exited', a NaN is 'non-finite', a hung calculator
 *   'timeout' (then the process is killed). The Python process is stopped on close(), after any fault, and killed
 *   when this process exits; it also exits by itself when its socket closes or this process dies.
 */
export class AsePotential implements SitePotential {
  readonly name: string;
  readonly cutoff: number;
  /** The engine finds its own neighbours (SitePotential.ignoresNeighbourList). */
  readonly ignoresNeighbourList = true;
  readonly units: UnitSystem;
  readonly probe: AseProbe;
  readonly cutoffSource: string;
  private readonly inner: IpiPotential;
  private readonly dir: string;
  private readonly errorFile: string;
  private failure: EngineError | null = null;
  private readonly statsFile: string;
  /** After close: the calculator's own time over all evaluations, as the client measured it (null if unknown). */
  calculatorStats: { evaluations: number; seconds: number; first: number } | null = null;

  constructor(private readonly opts: AseEngineOptions) {
    const p = probeAse(opts);
    this.probe = p;
    const cutoff = opts.cutoff ?? p.cutoff ?? undefined;
    if (cutoff === undefined) {
      throw new EngineError('config', `ase:${opts.calc}: the calculator (${p.calculator}) does not say its cutoff; pass it with --cutoff`);
    }
    if (!(cutoff > 0) || !Number.isFinite(cutoff)) throw new EngineError('config', `ase:${opts.calc}: cutoff must be > 0, got ${cutoff}`);
    this.cutoff = cutoff;
    this.cutoffSource = opts.cutoff !== undefined ? 'given' : p.cutoffSource!;
    this.units = { name: `ase ${p.ase}`, bohr: p.bohr, hartree: p.hartree, length: 'Angstrom', energy: 'eV' };
    this.name = opts.name ?? `ase:${opts.calc}`;
    this.dir = mkdtempSync(join(tmpdir(), 'mlipv-ase-'));
    this.errorFile = join(this.dir, 'error.json');
    const sock = join(this.dir, `s${seq++}`);
    const args = [ASE_CLIENT, '--calc', opts.calc, '--args', JSON.stringify(opts.args ?? {}), '--element', p.element];
    this.statsFile = join(this.dir, 'stats.json');
    args.push('--unix', '{unix}', '--error-file', this.errorFile, '--parent-pid', String(process.pid), '--stats-file', this.statsFile);
    args.push('--cleanup-dir', this.dir);
    try {
      this.inner = new IpiPotential({
        name: this.name,
        units: this.units,
        cutoff,
        server: { unixPath: sock, acceptTimeoutMs: opts.startupTimeoutMs ?? 120_000, responseTimeoutMs: opts.responseTimeoutMs ?? 120_000 },
        launch: { command: p.python, args },
        announceBoundary: true,
      });
    } catch (e) {
      rmSync(this.dir, { recursive: true, force: true });
      throw e;
    }
    liveDirs.add(this.dir);
    registerExitHook();
  }

  /** Python's process id (tests check it is gone after close, a fault, or our exit). */
  get pid(): number | undefined {
    return this.inner.clientPid;
  }

  get evaluations(): number {
    return this.inner.evaluations;
  }
  get wallTimeSeconds(): number {
    return this.inner.wallTimeSeconds;
  }

  describe(): Record<string, unknown> {
    const p = this.probe;
    return {
      kind: 'ase',
      name: this.name,
      calculator: p.calculator,
      args: this.opts.args ?? {},
      element: p.element,
      elementSource: p.elementSource,
      python: p.python,
      versions: { python: p.pythonVersion, ase: p.ase, numpy: p.numpy },
      units: { name: this.units.name, bohr: p.bohr, hartree: p.hartree, length: 'Angstrom', energy: 'eV' },
      cutoff: this.cutoff,
      cutoffSource: this.cutoffSource,
      implemented: p.implemented,
      virial: p.stress,
      ...(p.stress ? {} : { virialUnavailable: `calculator ${p.calculator} implements no stress, so the engine has no virial` }),
      hessianVector: { method: `${this.inner.fdScheme} finite differences of forces`, step: this.inner.fdStep ?? DEFAULT_FD.stepPerCutoff * this.cutoff },
      siteEnergies: false,
      energySummation: 'plain',
      evaluations: this.inner.evaluations,
    };
  }

  /** The client's own report of why it stopped, as a typed error (else the IpiPotential's error as it is). */
  private translate(e: unknown): unknown {
    if (!(e instanceof EngineError)) return e;
    if (e.kind === 'client-exited' || e.kind === 'disconnected') {
      const f = clientFailure(this.errorFile, String((e.details as { log?: string }).log ?? ''));
      if (f) return new EngineError(f.kind, `${this.name}: ${f.message}`, { cause: e.kind });
    }
    return e;
  }

  /** Run f on the inner engine; a fault becomes the client's typed error, remembered for later calls. */
  private guarded<T>(f: () => T): T {
    if (this.failure) throw new EngineError('closed', `engine ${this.name} stopped after an earlier fault: ${this.failure.message}`, { cause: this.failure.kind });
    try {
      return f();
    } catch (e) {
      const t = this.translate(e);
      if (t instanceof EngineError && t.kind !== 'closed') this.failure = t;
      throw t;
    }
  }

  evaluate(s: Structure, nl?: NeighbourList): EvalResult {
    const r = this.guarded(() => this.inner.evaluate(s, nl));
    if (!this.probe.stress) r.virial.fill(NaN);
    return r;
  }

  /** Finite differences of forces through the socket (IpiPotential.hessianVector); the virial plays no part. */
  hessianVector(s: Structure, nl: NeighbourList, v: Float64Array): Float64Array {
    return this.guarded(() => this.inner.hessianVector(s, nl, v));
  }

  close(): void {
    this.inner.close();
    this.cleanup();
  }

  async dispose(): Promise<void> {
    await this.inner.dispose();
    this.cleanup();
  }

  private cleanup(): void {
    if (existsSync(this.statsFile)) {
      try {
        this.calculatorStats = JSON.parse(readFileSync(this.statsFile, 'utf8')) as { evaluations: number; seconds: number; first: number };
      } catch {
        /* a client killed while writing: no stats */
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
    liveDirs.delete(this.dir);
  }
}

/** Work directories of open engines, removed if the process exits without closing them (IpiPotential's own exit
 * hook kills the Python process; a SIGKILLed process leaves this to the client, see --cleanup-dir). */
const liveDirs = new Set<string>();
let hooked = false;
function registerExitHook(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const d of liveDirs) rmSync(d, { recursive: true, force: true });
  });
}
