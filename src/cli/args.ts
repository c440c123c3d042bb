import { ParameterError } from '../util/errors.ts';

/** Minimal --flag value / --switch parser: enough for this CLI, with errors that name the flag. */
export interface ParsedArgs {
  positional: string[];
  flags: Map<string, string | true>;
}

export function parseArgs(argv: string[]): ParsedArgs {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      if (eq > 0) flags.set(a.slice(2, eq), a.slice(eq + 1));
      else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) flags.set(a.slice(2), argv[++i]);
      else flags.set(a.slice(2), true);
    } else positional.push(a);
  }
  return { positional, flags };
}

export function flagString(p: ParsedArgs, name: string, dflt?: string): string | undefined {
  const v = p.flags.get(name);
  if (v === undefined) return dflt;
  if (v === true) throw new ParameterError(`--${name} needs a value`);
  return v;
}

export function flagNumber(p: ParsedArgs, name: string, dflt?: number): number | undefined {
  const v = flagString(p, name);
  if (v === undefined) return dflt;
  const x = Number(v);
  if (!Number.isFinite(x)) throw new ParameterError(`--${name} must be a number, got '${v}'`);
  return x;
}

export function flagNumberList(p: ParsedArgs, name: string, dflt?: number[]): number[] | undefined {
  const v = flagString(p, name);
  if (v === undefined) return dflt;
  return v.split(',').map((s) => {
    const x = Number(s);
    if (!Number.isFinite(x)) throw new ParameterError(`--${name}: '${s}' is not a number`);
    return x;
  });
}

export function flagBool(p: ParsedArgs, name: string): boolean {
  return p.flags.get(name) === true || p.flags.get(name) === 'true';
}
