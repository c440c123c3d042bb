import { CHECKS, DEFAULT_FORCE_COMPONENTS, runChecks, type CheckResult } from '../../checks/index.ts';
import { makePotential, potentialNames, POTENTIALS } from '../../potentials/defaults.ts';
import type { SitePotential } from '../../potentials/types.ts';
import type { LatticeName } from '../../lattice/lattice.ts';
import { ParameterError } from '../../util/errors.ts';
import { flagBool, flagNumber, flagString, parseArgs } from '../args.ts';
import type { Command } from '../command.ts';
import { ENGINE_USAGE, engineTarget, potentialFlag } from '../../engines/cli.ts';
import { isBuiltinSpec } from '../../potentials/spec.ts';
import { withLammpsKnots } from '../../checks/engine-knots.ts';

/**
 * `mlip-verify check`: every verification check of src/checks on the default potentials (or one). The checks take any
 * SitePotential, so an `--engine` option only has to add another way to obtain the potential (see `targets`).
 */
interface Target {
  readonly pot: SitePotential;
  readonly lattice: LatticeName;
}

function targets(name: string | undefined): Target[] {
  const names = name ? [name] : potentialNames();
  return names.map((n) => {
    if (!POTENTIALS[n]) throw new ParameterError(`unknown potential '${n}'; valid potentials: ${potentialNames().join(', ')}`);
    return { pot: makePotential(n), lattice: POTENTIALS[n].lattice };
  });
}

function fmt(x: number): string {
  return Number.isFinite(x) ? x.toExponential(2) : String(x);
}

const WORD: Record<CheckResult['status'], string> = { pass: 'PASS', fail: 'FAIL', skip: 'SKIP', inconclusive: 'INCONCLUSIVE', finding: 'FINDING' };

/**
 * The results table: worst value with its error estimate (where the check measures one), tolerance, result, seed;
 * then one line per FAIL, INCONCLUSIVE or FINDING saying what and how sure (CheckResult.summary).
 */
export function formatTable(results: readonly CheckResult[]): string {
  const rows = results.map((r) => [
    r.potential,
    r.name,
    r.status === 'skip' ? '-' : fmt(r.worst),
    r.estimate === undefined || r.status === 'skip' ? '-' : fmt(r.estimate),
    r.status === 'skip' ? '-' : fmt(r.tolerance),
    r.status === 'skip' ? (r.skipped ?? 'SKIP') : WORD[r.status],
    String(r.worstCase.seed),
  ]);
  const head = ['potential', 'check', 'worst', '+-estimate', 'tolerance', 'result', 'seed'];
  const width = head.map((h, k) => Math.max(h.length, ...rows.map((r) => r[k].length)));
  const line = (cells: string[]) => cells.map((c, k) => c.padEnd(width[k])).join('  ').trimEnd();
  const notes = results.filter((r) => r.summary && r.status !== 'pass').map((r) => `${WORD[r.status]} ${r.summary}`);
  return [line(head), line(width.map((w) => '-'.repeat(w))), ...rows.map(line), ...(notes.length ? ['', ...notes] : [])].join('\n');
}

export const command: Command = {
  name: 'check',
  summary: 'run the verification checks (derivatives, symmetries, locality, smoothness, extensivity, precision)',
  usage: [
    'mlip-verify check [--potential spec] [--seed n] [--cases k] [--components m] [--only check1,check2] [--json]',
    `  --components m: force components line-integrated per configuration by the forces check (default ${DEFAULT_FORCE_COMPONENTS}; each costs`,
    '  about 11 evaluations, so a slow engine may want fewer)',
    `  default: every built-in (${potentialNames().join(', ')})`,
    `  checks:     ${Object.keys(CHECKS).join(', ')}`,
    '  exit status 1 if any check fails (inconclusive results and findings do not); the seed column replays the worst',
    '  case with --seed <seed> --cases 1',
    ENGINE_USAGE,
  ].join('\n'),
  async run(argv) {
    const a = parseArgs(argv);
    const seed = flagNumber(a, 'seed', 1)!;
    if (!Number.isInteger(seed) || seed < 0) throw new ParameterError(`--seed must be a non-negative integer, got ${seed}`);
    const cases = flagNumber(a, 'cases', 2)!;
    if (!Number.isInteger(cases) || cases < 1) throw new ParameterError(`--cases must be a positive integer, got ${cases}`);
    const components = flagNumber(a, 'components', DEFAULT_FORCE_COMPONENTS)!;
    if (!Number.isInteger(components) || components < 1) throw new ParameterError(`--components must be a positive integer, got ${components}`);
    const only = flagString(a, 'only');
    const names = only ? only.split(',') : Object.keys(CHECKS);
    for (const n of names) {
      if (!CHECKS[n]) throw new ParameterError(`unknown check '${n}'; valid checks: ${Object.keys(CHECKS).join(', ')}`);
    }
    const json = flagBool(a, 'json');
    const results: CheckResult[] = [];
    const spec = potentialFlag(a);
    if (spec !== undefined && !isBuiltinSpec(spec)) {
      const t = engineTarget(a); // any other potential spec (src/potentials/spec.ts): same checks, its own lattice and r0
      try {
        // A LAMMPS EAM engine gets the knots of the file it runs (read natively), so the checks cut paths there.
        const pot = withLammpsKnots(t.pot, spec);
        results.push(...runChecks(pot, { seed, cases, components, lattice: t.lattice, r0: t.r0 }, names));
      } finally {
        await t.close();
      }
    } else
    for (const t of targets(spec)) {
      results.push(...runChecks(t.pot, { seed, cases, components, lattice: t.lattice }, names));
    }
    const failed = results.filter((r) => r.status === 'fail').length;
    if (json) console.log(JSON.stringify({ seed, cases, components, failed, results }, null, 2));
    else {
      console.log(formatTable(results));
      const count = (st: CheckResult['status']) => results.filter((r) => r.status === st).length;
      console.log(
        `\n${results.length} checks, ${failed} failed, ${count('inconclusive')} inconclusive, ${count('finding')} findings, ${count('skip')} skipped (seed ${seed})`,
      );
    }
    return failed > 0 ? 1 : 0;
  },
};
export default command;
