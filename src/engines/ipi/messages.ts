import type { EngineFailure } from '../errors.ts';
import type { ForceReply, WireFrame } from './protocol.ts';
import type { IpiAddress, IpiServerOptions } from './server.ts';

/**
 * Messages between IpiPotential (main thread, blocked in Atomics.wait while an evaluation runs) and the worker that
 * owns the sockets. Kept as plain data: errors cross as { kind, message, details } and are rebuilt as EngineError.
 */
export interface LaunchSpec {
  /**
   * Executable and arguments of the client to start once the server listens (e.g. `lmp -in in.ipi`). In the
   * arguments, {host} and {port} (TCP) or {unix} (the socket path) are replaced by the address actually bound.
   */
  command: string;
  args: string[];
  cwd?: string;
  env?: Record<string, string>;
  /** A log file the client writes (LAMMPS -log); its tail goes into the error when the client dies. */
  logFile?: string;
}

export interface WorkerInit {
  server: IpiServerOptions;
  launch?: LaunchSpec;
}

/** compute.timeoutMs: this evaluation's response timeout (default: the server's responseTimeoutMs). */
export type ToWorker = { op: 'compute'; id: number; frame: WireFrame; timeoutMs?: number } | { op: 'close'; id: number };

export interface ErrorData {
  kind: EngineFailure;
  message: string;
  details?: Record<string, unknown>;
}

export type FromWorker =
  | { op: 'listening'; ok: true; address: IpiAddress; clientPid?: number }
  | { op: 'listening'; ok: false; error: ErrorData }
  | { op: 'compute'; id: number; ok: true; reply: ForceReply; clientEvaluations: number }
  | { op: 'compute'; id: number; ok: false; error: ErrorData }
  | { op: 'close'; id: number; ok: true; clientExit: { code: number | null; signal: string | null } | null };
