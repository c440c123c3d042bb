import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { StudyMode, StudyName } from '../convergence/registry.ts';
import { EngineError } from '../engines/errors.ts';
import { ConvergenceError, FitError, GeometryError, MlipVerifyError, ParameterError, ParseError } from '../util/errors.ts';

/**
 * A small pool of worker threads for the report runner: whole studies, or independent tasks of one study (a point of
 * the training-size study), run on both cores. Workers load the TypeScript sources through tsx exactly as
 * bin/mlip-verify.mjs does (pool-worker.mjs), keep their module caches (reference relaxations, training cells) for the
 * life of the pool, so a reference needed by two studies is relaxed at most once per worker, and are terminated by
 * close(): no worker outlives the report.
 *
 * Jobs are dispatched in submission order to whichever worker is free; results come back in the order each caller
 * asked for them, so what a report contains never depends on which worker ran what or when.
 */

/** What a worker runs: a study's whole `run`, or one task of its `runTask`. Options are the resolved JSON options. */
export type PoolJob =
  | { kind: 'study'; study: StudyName; mode: StudyMode; options: Record<string, unknown> }
  | { kind: 'task'; study: StudyName; mode: StudyMode; options: Record<string, unknown>; task: unknown };

/** Messages worker -> main. */
export type WorkerReply =
  | { id: number; type: 'progress'; msg: string }
  | { id: number; type: 'result'; value: unknown }
  | { id: number; type: 'error'; error: SerialisedError };

/** An error as data: typed errors keep their class (by name), code, message and details across the thread boundary. */
export interface SerialisedError {
  name: string;
  message: string;
  stack?: string;
  /** Set for MlipVerifyErrors: the report records these as a study's error; anything else is a bug and propagates. */
  typed?: { code: string; details: Record<string, unknown>; fields: Record<string, unknown> };
}

/** Default pool size: both cores where there are two (the machine the default report is sized for), never more. */
export function defaultJobs(): number {
  return Math.max(1, Math.min(2, availableParallelism()));
}

const TYPED: Record<string, { prototype: MlipVerifyError }> = {
  MlipVerifyError,
  GeometryError,
  ParameterError,
  ParseError,
  ConvergenceError,
  FitError,
  EngineError,
};

/** Serialise a thrown value in the worker (details that cannot be cloned are replaced by their JSON, else dropped). */
export function serialiseError(e: unknown): SerialisedError {
  if (e instanceof MlipVerifyError) {
    const { code, details, name, message, stack: _s, ...fields } = e as MlipVerifyError & Record<string, unknown>;
    let d: Record<string, unknown> = details;
    try {
      structuredClone(details);
    } catch {
      try {
        d = JSON.parse(JSON.stringify(details)) as Record<string, unknown>;
      } catch {
        d = {};
      }
    }
    return { name, message, stack: e.stack, typed: { code, details: d, fields } };
  }
  if (e instanceof Error) return { name: e.name, message: e.message, stack: e.stack };
  return { name: 'Error', message: String(e) };
}

/**
 * Rebuild a thrown value on the main thread: a typed error becomes an instance of the same class (known by name; an
 * unknown subclass becomes an MlipVerifyError with the same name), with the same message, code and details.
 */
export function deserialiseError(s: SerialisedError): Error {
  if (s.typed) {
    const proto = (TYPED[s.name] ?? MlipVerifyError).prototype;
    const e = Object.create(proto) as MlipVerifyError & Record<string, unknown>;
    Object.defineProperty(e, 'message', { value: s.message, writable: true, configurable: true, enumerable: false });
    Object.assign(e, s.typed.fields, { code: s.typed.code, details: s.typed.details });
    e.name = s.name;
    e.stack = s.stack;
    return e;
  }
  const e = new Error(s.message);
  e.name = s.name;
  if (s.stack) e.stack = `${s.stack}\n    (in a report worker thread)`;
  return e;
}

interface Pending {
  id: number;
  job: PoolJob;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  progress?: (msg: string) => void;
}

interface Slot {
  worker: Worker;
  busy: Pending | null;
  exited: boolean;
}

export class StudyPool {
  readonly size: number;
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 1;
  private closed = false;
  private failure: Error | null = null;

  constructor(size: number = defaultJobs()) {
    if (!Number.isInteger(size) || size < 1) throw new ParameterError(`the worker pool needs at least one worker, got ${size}`);
    this.size = size;
    for (let i = 0; i < size; i++) this.slots.push(this.spawn());
  }

  private spawn(): Slot {
    const worker = new Worker(new URL('./pool-worker.mjs', import.meta.url), { stdout: false, stderr: false });
    const slot: Slot = { worker, busy: null, exited: false };
    worker.on('message', (m: WorkerReply) => this.onMessage(slot, m));
    worker.on('error', (e) => this.onCrash(slot, e));
    worker.on('exit', (code) => {
      slot.exited = true;
      if (!this.closed) this.onCrash(slot, new Error(`a report worker thread exited unexpectedly (exit code ${code})`));
    });
    return slot;
  }

  /** Run one job on the next free worker; resolves with its (structured-cloned) result or rejects with its error. */
  run<T = unknown>(job: PoolJob, progress?: (msg: string) => void): Promise<T> {
    if (this.closed) return Promise.reject(new Error('the report worker pool is closed'));
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, job, resolve: resolve as (v: unknown) => void, reject, progress });
      this.dispatch();
    });
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (slot.busy || slot.exited || this.queue.length === 0) continue;
      const p = this.queue.shift()!;
      slot.busy = p;
      slot.worker.postMessage({ id: p.id, job: p.job });
    }
  }

  private onMessage(slot: Slot, m: WorkerReply): void {
    const p = slot.busy;
    if (!p || p.id !== m.id) return;
    if (m.type === 'progress') {
      p.progress?.(m.msg);
      return;
    }
    slot.busy = null;
    if (m.type === 'result') p.resolve(m.value);
    else p.reject(deserialiseError(m.error));
    this.dispatch();
  }

  /** A worker that dies takes its job with it and stops the pool: every pending and queued job is rejected. */
  private onCrash(slot: Slot, e: Error): void {
    if (this.closed) return;
    this.failure ??= e instanceof Error ? e : new Error(String(e));
    const pending = [...(slot.busy ? [slot.busy] : []), ...this.queue.splice(0)];
    slot.busy = null;
    for (const p of pending) p.reject(this.failure);
    for (const s of this.slots) {
      if (s.busy) {
        s.busy.reject(this.failure);
        s.busy = null;
      }
    }
  }

  /** Workers not yet exited (0 after close()). */
  running(): number {
    return this.slots.filter((s) => !s.exited).length;
  }

  /** Terminate every worker (idempotent); queued jobs are rejected. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const err = new Error('the report worker pool was closed');
    for (const p of this.queue.splice(0)) p.reject(err);
    for (const s of this.slots) {
      if (s.busy) {
        s.busy.reject(err);
        s.busy = null;
      }
    }
    await Promise.all(
      this.slots.map(async (s) => {
        if (!s.exited) await s.worker.terminate();
        s.exited = true;
      }),
    );
  }
}
