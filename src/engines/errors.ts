import { MlipVerifyError } from '../util/errors.ts';

/**
 * What went wrong with an external engine. The kind is machine-readable so tests (and callers that want to retry)
 * can tell a client that vanished from one that answered nonsense; the message names it for humans.
 */
export type EngineFailure =
  /** The client closed the connection (possibly mid-message: `details.atByte` says where). */
  | 'disconnected'
  /** A 12-byte header that is not one of the protocol's words (or not ASCII). */
  | 'malformed-header'
  /** A valid header at the wrong point of the exchange (e.g. FORCEREADY before any POSDATA). */
  | 'unexpected-message'
  /** An array of the wrong size: natoms different from what we sent, a negative length, an absurd extra string. */
  | 'bad-size'
  /** NaN or infinite energy, force or virial. */
  | 'non-finite'
  /** No client connected, or a client stopped answering, within the timeout. */
  | 'timeout'
  /** The engine process we launched exited (its exit code and the tail of its log are in the details). */
  | 'client-exited'
  /** The engine process could not be started. */
  | 'spawn'
  /** The address could not be listened on (in use, not loopback without permission, path too long). */
  | 'listen'
  /** The engine was used after close() or after an earlier fatal error. */
  | 'closed'
  /** A request the engine cannot serve (e.g. a 2D structure when 2D embedding is refused). */
  | 'unsupported'
  /** A bad engine specification (`--engine` string, unit system, missing file). */
  | 'config'
  /** ASE engines: the Python interpreter could not be started. */
  | 'python-missing'
  /** ASE engines: Python runs but cannot import ASE (or numpy). */
  | 'ase-missing'
  /** ASE engines: the calculator's module or callable does not exist, or is not an ASE calculator. */
  | 'calculator-not-found'
  /** ASE engines: the calculator (or its factory, or its module's import) raised; its message is in ours. */
  | 'calculator-error';

/**
 * An external engine (an i-PI client such as LAMMPS `fix ipi`, a trainer plug-in) failed. Every protocol fault ends
 * in one of these rather than a hang or a bare socket error, so a verification run reports what happened and stops.
 */
export class EngineError extends MlipVerifyError {
  constructor(
    readonly kind: EngineFailure,
    message: string,
    details: Record<string, unknown> = {},
  ) {
    super('ENGINE', message, { kind, ...details });
  }
}

/** Rebuild an EngineError from its plain-object form (errors cross the worker boundary as data, not instances). */
export function engineErrorFromData(d: { kind: EngineFailure; message: string; details?: Record<string, unknown> }): EngineError {
  return new EngineError(d.kind, d.message, d.details ?? {});
}
