import { existsSync, unlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import type { NeighbourList } from '../../lattice/neighbours.ts';
import type { Structure } from '../../lattice/structure.ts';
import type { EvalResult, SitePotential } from '../../potentials/types.ts';
import { EngineError, engineErrorFromData } from '../errors.ts';
import { embed, unembed, type EmbedOptions } from './geometry.ts';
import type { FromWorker, LaunchSpec, ToWorker } from './messages.ts';
import { DEFAULT_ACCEPT_TIMEOUT_MS, DEFAULT_RESPONSE_TIMEOUT_MS, type IpiAddress, type IpiServerOptions } from './server.ts';
import { unitSystem, type UnitSystem } from './units.ts';

export interface IpiEngineOptions {
  /** Name in reports (default: 'ipi:<address>'). */
  name?: string;
  /** Where to listen (default: TCP on 127.0.0.1, a free port) and the timeouts; see IpiServerOptions. */
  server?: IpiServerOptions;
  /** The engine's units: a preset name ('ase', 'codata2018', 'lammps-metal', 'atomic', ...) or { bohr, hartree }. */
  units: string | UnitSystem | { bohr: number; hartree: number; name?: string };
  /**
   * The engine's interaction cutoff in its length unit. External engines do not tell us; callers need it for
   * neighbour lists and cell-size checks, and the open-boundary/2D embedding sizes its vacuum from it.
   */
  cutoff: number;
  /** Vacuum gap for open and 2D structures (default 3 x cutoff), and whether 2D structures are embedded or refused. */
  vacuum?: number;
  planar?: 'embed' | 'refuse';
  /** Displacement h (engine length unit) of the finite differences in hessianVector (default 1e-4 x cutoff). */
  fdStep?: number;
  /** 'richardson' (default): central differences at h and h/2 extrapolated, O(h^4), 4 evaluations per product;
   * 'central': one central difference, O(h^2), 2 evaluations (pass a smaller fdStep, e.g. 1e-5 x cutoff). */
  fdScheme?: 'richardson' | 'central';
  /**
   * Scale each evaluation's response timeout with its size (default true): the timeout of a call on n atoms is
   * max(server.responseTimeoutMs, RESPONSE_TIMEOUT_FACTOR x the slowest time per atom measured so far x n), so a
   * study's 50,000-atom reference does not trip a timeout sized for the 256-atom cells it started with, while a
   * client that hangs is still caught. false: every call gets server.responseTimeoutMs.
   */
  scaleTimeout?: boolean;
  /** Start this client process once the server listens (LAMMPS, a driver script); it is stopped on close(). */
  launch?: LaunchSpec;
  /** Provenance for describe(): what the engine is (pair style, model file, ...). */
  describe?: Record<string, unknown>;
  /**
   * Send each frame's boundary as the INIT string, JSON `{"pbc":[x,y,z]}` (open: all false; 2D: z false), for a
   * client that reads it (the ASE client, src/engines/ase/client.py) and can then evaluate open clusters as
   * non-periodic. Plain i-PI clients ignore INIT strings, and the vacuum gap makes the periodic answer the same.
   */
  announceBoundary?: boolean;
}

/** Resolve tsx's ESM API entry so the worker can load our TypeScript sources (tsx is a runtime dependency). */
function tsxApiUrl(): string {
  const req = createRequire(import.meta.url);
  const pkgPath = req.resolve('tsx/package.json');
  const pkg = req(pkgPath) as { exports: Record<string, { import?: { default?: string } } | string> };
  const entry = pkg.exports['./esm/api'];
  const rel = typeof entry === 'object' && entry.import?.default ? entry.import.default : './dist/esm/api/index.mjs';
  return pathToFileURL(pkgPath.replace(/package\.json$/, '') + rel.replace(/^\.\//, '')).href;
}

/** Worker bootstrap: register tsx, load worker.ts; a load failure is reported through the same channel. */
function bootstrap(): string {
  const api = JSON.stringify(tsxApiUrl());
  const target = JSON.stringify(new URL('./worker.ts', import.meta.url).href);
  return `
const { workerData } = require('node:worker_threads');
import(${api}).then((m) => { m.register(); return import(${target}); }).catch((e) => {
  workerData.port.postMessage({ op: 'listening', ok: false, error: { kind: 'spawn', message: 'i-PI worker failed to load: ' + (e && e.stack || e) } });
  const c = new Int32Array(workerData.ctrl); Atomics.add(c, 0, 1); Atomics.notify(c, 0);
});`;
}

const live = new Set<IpiPotential>();
let exitHook = false;
/** The worker dies with the process without running its cleanup; the UNIX socket file must not outlive us. */
function registerExitHook(): void {
  if (exitHook) return;
  exitHook = true;
  process.on('exit', () => {
    for (const p of live) {
      // A launched client must not outlive us: worker threads die with the process, their children do not.
      if (p.clientPid !== undefined) {
        try {
          process.kill(p.clientPid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
      const a = p.address;
      if (a.kind === 'unix' && existsSync(a.path)) {
        try {
          unlinkSync(a.path);
        } catch {
          /* ignore */
        }
      }
    }
  });
}

const STARTUP_TIMEOUT_MS = 60_000;

/** A call may take this many times the slowest per-atom time measured before it (see IpiEngineOptions.scaleTimeout). */
export const RESPONSE_TIMEOUT_FACTOR = 20;

/** Default finite-difference scheme of engine Hessian-vector products (the protocol has no second derivatives). */
export const DEFAULT_FD = { scheme: 'richardson', stepPerCutoff: 1e-4 } as const;

/**
 * An external engine reached through the i-PI protocol, as a SitePotential. We are the i-PI *server*: the engine
 * (LAMMPS `fix ipi`, ASE's SocketClient, an i-PI driver) connects to us and computes energy, forces and virial for
 * the geometries we send. The first evaluate() waits for the client to connect (up to the accept timeout).
 *
 * - Synchronous by design: evaluate() blocks the calling thread (Atomics.wait) while a worker thread does the
 *   socket I/O, so solvers and checks use it like any other potential. Every wait is bounded by the timeouts.
 * - No site energies: i-PI returns totals only. Checks that need site energies must skip for this engine.
 * - hessianVector is a finite difference of forces along v (the protocol has no second derivatives): central
 *   differences D(t) = -(F(x + t v^) - F(x - t v^)) / 2t at t = h and h/2, Richardson-extrapolated to
 *   (4 D(h/2) - D(h)) / 3, times |v|. Error O(h^4 |d^5E|) + O(eps_machine |F| / h): the default h = 1e-4 x cutoff
 *   keeps both near 1e-11 relative for smooth potentials (measured on the reference EAM through the socket). Four
 *   evaluations per product. Tabulated engines (LAMMPS eam/alloy splines are C^1) have kinks in the Hessian at the
 *   table knots, which no step size removes: expect ~1e-9 there.
 * - The neighbour list argument is ignored (the engine builds its own); `cutoff` is what the caller declared.
 * - A fault (disconnect, malformed reply, NaN, timeout, the engine process dying) throws an EngineError and closes
 *   the engine: later calls throw EngineError('closed') naming the first fault.
 * - Repeated evaluations of the identical configuration are served from a one-entry cache (solvers often ask for
 *   energy and forces of the same point separately).
 */
export class IpiPotential implements SitePotential {
  readonly name: string;
  readonly cutoff: number;
  /** The engine finds its own neighbours (SitePotential.ignoresNeighbourList). */
  readonly ignoresNeighbourList = true;
  readonly units: UnitSystem;
  readonly address: IpiAddress;
  readonly fdStep: number;
  readonly fdScheme: 'richardson' | 'central';
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly ctrl: Int32Array;
  private seen = 0;
  private nextId = 1;
  private failure: EngineError | null = null;
  private closed = false;
  private readonly embedOpts: EmbedOptions;
  private readonly acceptTimeoutMs: number;
  private readonly responseTimeoutMs: number;
  private connected = false;
  private cache: { key: Float64Array; cell: Float64Array | null; dim: number; result: EvalResult } | null = null;
  /** Round trips to the engine (cache hits excluded) and the wall time spent in them. */
  evaluations = 0;
  /** Slowest wall time per atom of a round trip so far (ms; first connection excluded), for the scaled timeout. */
  private msPerAtom = 0;
  wallTimeSeconds = 0;
  clientExit: { code: number | null; signal: string | null } | null = null;
  /** Process id of the launched client (launch option), for the exit hook and for tests. */
  readonly clientPid?: number;

  constructor(private readonly opts: IpiEngineOptions) {
    this.units = typeof opts.units === 'object' && 'length' in opts.units ? opts.units : unitSystem(opts.units as string);
    if (!(opts.cutoff > 0) || !Number.isFinite(opts.cutoff)) throw new EngineError('config', `engine cutoff must be > 0, got ${opts.cutoff}`);
    this.cutoff = opts.cutoff;
    this.fdScheme = opts.fdScheme ?? DEFAULT_FD.scheme;
    this.fdStep = opts.fdStep ?? DEFAULT_FD.stepPerCutoff * opts.cutoff;
    this.embedOpts = { cutoff: opts.cutoff, vacuum: opts.vacuum, planar: opts.planar };
    this.acceptTimeoutMs = opts.server?.acceptTimeoutMs ?? DEFAULT_ACCEPT_TIMEOUT_MS;
    this.responseTimeoutMs = opts.server?.responseTimeoutMs ?? DEFAULT_RESPONSE_TIMEOUT_MS;
    const sab = new SharedArrayBuffer(4);
    this.ctrl = new Int32Array(sab);
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.worker = new Worker(bootstrap(), {
      eval: true,
      workerData: { port: port2, ctrl: sab, init: { server: opts.server ?? {}, launch: opts.launch } },
      transferList: [port2],
    });
    this.worker.unref();
    this.worker.on('error', () => {}); // surfaced through the channel or the timeout
    const m = this.wait(STARTUP_TIMEOUT_MS, 'the i-PI worker to start listening');
    if (m.op !== 'listening') throw new EngineError('listen', `i-PI worker sent ${m.op} before listening`);
    if (!m.ok) {
      this.terminate();
      throw engineErrorFromData(m.error);
    }
    this.address = m.address;
    this.clientPid = m.clientPid;
    this.name = opts.name ?? `ipi:${this.describeAddress()}`;
    live.add(this);
    registerExitHook();
  }

  describeAddress(): string {
    const a = this.address;
    return a.kind === 'unix' ? `unix:${a.path}` : `${a.host}:${a.port}`;
  }

  describe(): Record<string, unknown> {
    return {
      kind: 'ipi',
      name: this.name,
      address: this.describeAddress(),
      units: { name: this.units.name, bohr: this.units.bohr, hartree: this.units.hartree, length: this.units.length, energy: this.units.energy },
      cutoff: this.cutoff,
      hessianVector: { method: `${this.fdScheme} finite differences of forces`, step: this.fdStep },
      siteEnergies: false,
      // Unknown for an external code, so the weakest assumption: a plain float64 sum of its energy terms.
      energySummation: 'plain',
      evaluations: this.evaluations,
      ...(this.opts.describe ?? {}),
    };
  }

  /** Block until the worker answers (or the deadline passes: then the worker is killed and we throw). */
  private wait(timeoutMs: number, what: string): FromWorker {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = receiveMessageOnPort(this.port);
      if (r) return r.message as FromWorker;
      const left = deadline - Date.now();
      if (left <= 0) {
        this.terminate();
        const e = new EngineError('timeout', `i-PI engine: no answer while waiting for ${what} within ${timeoutMs} ms`, { timeoutMs });
        this.failure ??= e;
        throw e;
      }
      Atomics.wait(this.ctrl, 0, this.seen, left);
      this.seen = Atomics.load(this.ctrl, 0);
    }
  }

  private post(m: ToWorker): void {
    this.port.postMessage(m);
  }

  private guard(): void {
    if (this.failure) throw new EngineError('closed', `engine ${this.name} stopped after an earlier fault: ${this.failure.message}`, { cause: this.failure.kind });
    if (this.closed) throw new EngineError('closed', `engine ${this.name} is closed`);
  }

  evaluate(s: Structure, _nl?: NeighbourList): EvalResult {
    this.guard();
    const c = this.cache;
    if (c && c.dim === s.dim && sameArray(c.key, s.positions) && sameCell(c.cell, s.cell)) return cloneResult(c.result);
    const e = embed(s, this.units, this.embedOpts);
    const id = this.nextId++;
    const t0 = performance.now();
    const pbc = s.cell ? [true, true, s.dim === 3] : [false, false, false];
    const frame = this.opts.announceBoundary ? { ...e.frame, init: JSON.stringify({ pbc }) } : e.frame;
    const n = e.n;
    const timeoutMs = this.responseTimeoutFor(n);
    this.post({ op: 'compute', id, frame, timeoutMs });
    // The worker enforces the real timeouts; this bound only guards against a wedged worker.
    const bound = (this.connected ? 0 : this.acceptTimeoutMs) + 5 * timeoutMs + 10_000;
    const m = this.wait(bound, 'an evaluation');
    const ms = performance.now() - t0;
    this.wallTimeSeconds += ms / 1000;
    if (m.op !== 'compute' || m.id !== id) {
      this.fail(new EngineError('unexpected-message', `i-PI worker answered out of order (${m.op})`));
    }
    const mm = m as Extract<FromWorker, { op: 'compute' }>;
    if (!mm.ok) {
      const err = engineErrorFromData(mm.error);
      if (err.kind !== 'timeout') this.fail(err);
      this.fail(
        new EngineError('timeout', `${err.message} (response timeout of this ${n}-atom evaluation: ${this.describeTimeout(n, timeoutMs)}; raise it with --response-timeout <seconds>, or engine.responseTimeout in a configuration)`, {
          ...(err.details ?? {}),
          timeoutMs,
          atoms: n,
        }),
      );
    }
    if (this.connected && n > 0) this.msPerAtom = Math.max(this.msPerAtom, ms / n);
    this.connected = true;
    this.evaluations++;
    const result = unembed((mm as Extract<FromWorker, { op: 'compute'; ok: true }>).reply, e, this.units);
    this.cache = { key: Float64Array.from(s.positions), cell: s.cell ? Float64Array.from(s.cell) : null, dim: s.dim, result: cloneResult(result) };
    return result;
  }

  /** The response timeout of one evaluation of n atoms (ms); see IpiEngineOptions.scaleTimeout. */
  responseTimeoutFor(n: number): number {
    if (this.opts.scaleTimeout === false) return this.responseTimeoutMs;
    return Math.max(this.responseTimeoutMs, Math.ceil(RESPONSE_TIMEOUT_FACTOR * this.msPerAtom * n));
  }

  private describeTimeout(n: number, timeoutMs: number): string {
    const base = `${this.responseTimeoutMs} ms configured`;
    if (this.opts.scaleTimeout === false || timeoutMs === this.responseTimeoutMs) {
      return `${timeoutMs} ms (${base}${this.opts.scaleTimeout === false ? ', not scaled' : `; ${RESPONSE_TIMEOUT_FACTOR} x the slowest measured ${this.msPerAtom.toPrecision(3)} ms per atom x ${n} atoms is less`})`;
    }
    return `${timeoutMs} ms = ${RESPONSE_TIMEOUT_FACTOR} x the slowest measured ${this.msPerAtom.toPrecision(3)} ms per atom x ${n} atoms (more than the ${base})`;
  }

  private fail(e: EngineError): never {
    this.failure = e;
    this.shutdown();
    throw e;
  }

  hessianVector(s: Structure, nl: NeighbourList, v: Float64Array): Float64Array {
    let nv = 0;
    for (let i = 0; i < v.length; i++) nv += v[i] * v[i];
    nv = Math.sqrt(nv);
    const out = new Float64Array(v.length);
    if (nv === 0) return out;
    // D(t) = -(F(x + t v^) - F(x - t v^)) / 2t = H v^ + O(t^2); Richardson: (4 D(h/2) - D(h)) / 3 = H v^ + O(h^4).
    const central = (t: number): Float64Array => {
      const xp = Float64Array.from(s.positions);
      const xm = Float64Array.from(s.positions);
      for (let i = 0; i < v.length; i++) {
        xp[i] += (t * v[i]) / nv;
        xm[i] -= (t * v[i]) / nv;
      }
      const fp = this.evaluate({ dim: s.dim, positions: xp, cell: s.cell }, nl).forces;
      const fm = this.evaluate({ dim: s.dim, positions: xm, cell: s.cell }, nl).forces;
      return fp.map((f, i) => -(f - fm[i]) / (2 * t));
    };
    const h = this.fdStep;
    const d1 = central(h);
    if (this.fdScheme === 'central') {
      for (let i = 0; i < v.length; i++) out[i] = d1[i] * nv;
      return out;
    }
    const d2 = central(h / 2);
    for (let i = 0; i < v.length; i++) out[i] = ((4 * d2[i] - d1[i]) / 3) * nv;
    return out;
  }

  /** Ask the worker to send EXIT, close every socket, stop the launched client; then end the worker. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.shutdown();
  }

  private shutdown(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      const id = this.nextId++;
      this.post({ op: 'close', id });
      const m = this.wait(10_000, 'the engine to shut down');
      if (m.op === 'close') this.clientExit = m.clientExit;
    } catch {
      /* terminate below */
    }
    this.terminate();
  }

  private terminated: Promise<number> | null = null;
  private terminate(): void {
    this.closed = true;
    live.delete(this);
    this.port.close();
    this.terminated ??= this.worker.terminate();
    const a = (this as { address?: IpiAddress }).address;
    if (a?.kind === 'unix' && existsSync(a.path)) {
      try {
        unlinkSync(a.path);
      } catch {
        /* ignore */
      }
    }
  }

  /** close() and wait until the worker thread is gone (tests use this to prove nothing is left open). */
  async dispose(): Promise<void> {
    this.close();
    if (this.terminated) await this.terminated;
  }
}

function sameArray(a: Float64Array, b: Float64Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}
function sameCell(a: Float64Array | null, b: Float64Array | null): boolean {
  if (a === null || b === null) return a === b;
  return sameArray(a, b);
}
function cloneResult(r: EvalResult): EvalResult {
  return { energy: r.energy, forces: Float64Array.from(r.forces), virial: Float64Array.from(r.virial) };
}
