/**
 * Typed errors. Every failure the user can cause (bad input, a solver that does not converge, a rank-deficient fit)
 * is one of these, with a message naming the offending atom, parameter, path or line.
 */
export class MlipVerifyError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Invalid geometry: NaN/infinite coordinates, overlapping atoms, a periodic cell too small for the cutoff. */
export class GeometryError extends MlipVerifyError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('GEOMETRY', message, details);
  }
}

/** A potential, lattice or study parameter outside its domain. */
export class ParameterError extends MlipVerifyError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('PARAMETER', message, details);
  }
}

/** A malformed file: carries the file name (if any) and the 1-based line number. */
export class ParseError extends MlipVerifyError {
  constructor(
    message: string,
    readonly line: number,
    readonly file?: string,
  ) {
    super('PARSE', `${file ? `${file}:` : ''}line ${line}: ${message}`, { line, file });
  }
}

/** An iterative solver that failed (no convergence, NaN, energy rising without bound); carries its history. */
export class ConvergenceError extends MlipVerifyError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('CONVERGENCE', message, details);
  }
}

/** A least-squares fit that cannot give what was asked (rank deficient where a unique fit was required, ...). */
export class FitError extends MlipVerifyError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('FIT', message, details);
  }
}

/** Assert that a numeric parameter is finite and satisfies a predicate; names the parameter otherwise. */
export function requireParam(name: string, value: number, ok: (v: number) => boolean, expectation: string): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || !ok(value)) {
    throw new ParameterError(`parameter ${name} = ${value} is invalid: must be ${expectation}`, { name, value });
  }
}
