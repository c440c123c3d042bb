import { BOUNDARY_KINDS, DEFECT_KINDS, type BoundaryKind, type DefectKind } from '../../lattice/domain.ts';
import { LATTICE_NAMES, type LatticeName } from '../../lattice/lattice.ts';
import { POTENTIALS, potentialNames } from '../../potentials/defaults.ts';
import { SOLVER_NAMES, type SolverName } from '../../relax/types.ts';
import { ParameterError } from '../../util/errors.ts';
import type { StudyResult } from '../../convergence/types.ts';
import { flagBool, flagNumber, flagNumberList, flagString, parseArgs, type ParsedArgs } from '../args.ts';
import type { Command } from '../command.ts';

/**
 * `mlip-verify study <subcommand>`: the convergence studies of THEORY.md. Each subcommand is one entry of SUBCOMMANDS
 * (its options, and a run() returning a StudyResult), so later studies (perturbation, fit-accuracy, training-size)
 * are added by one entry each; printing (table + verdict, or the StudyResult as JSON with --json) is shared.
 */
export interface StudySubcommand {
  summary: string;
  usage: string;
  run(p: ParsedArgs, progress: (msg: string) => void): Promise<StudyResult>;
}

function choice<T extends string>(p: ParsedArgs, name: string, valid: readonly T[], dflt: T): T {
  const v = flagString(p, name, dflt)!;
  if (!valid.includes(v as T)) throw new ParameterError(`--${name} '${v}' is not one of: ${valid.join(', ')}`);
  return v as T;
}

export const SUBCOMMANDS: Record<string, StudySubcommand> = {
  domain: {
    summary: 'P1: defect relaxed in a clamped ball / periodic cell of size R vs a large reference (slopes -d/2, -d)',
    usage: [
      'mlip-verify study domain [--lattice triangular|fcc|...] [--potential eam-2d|morse-2d|eam-fcc|...]',
      '    [--defect vacancy|divacancy|interstitial] [--boundary ball|periodic] [--sizes 8,11,16,23,32]',
      '    [--ref-size 128] [--check-ref-size R] [--solver auto|precon-lbfgs|lbfgs|newton-krylov|fire] [--tol 1e-10]',
      '    [--max-iterations N] [--pre-asymptotic R] [--json]',
      'Defaults: 2D sizes 8,11,16,23,32 with --ref-size 128; 3D sizes 4.5,5.5,6.5,8 with --ref-size 16.',
    ].join('\n'),
    async run(p, progress) {
      const { domainStudy } = await import('../../convergence/domain-study.ts');
      const potential = choice(p, 'potential', potentialNames(), 'eam-2d');
      const lattice = choice<LatticeName>(p, 'lattice', LATTICE_NAMES, POTENTIALS[potential].lattice);
      const dim = lattice === 'fcc' || lattice === 'bcc' ? 3 : 2;
      const defect = choice<DefectKind>(p, 'defect', DEFECT_KINDS.filter((d) => d !== 'none'), 'vacancy');
      const boundary = choice<BoundaryKind>(p, 'boundary', BOUNDARY_KINDS, 'ball');
      const sizes = flagNumberList(p, 'sizes', dim === 2 ? [8, 11, 16, 23, 32] : [4.5, 5.5, 6.5, 8])!;
      return domainStudy({
        potential,
        lattice,
        defect,
        boundary,
        sizes,
        refSize: flagNumber(p, 'ref-size', dim === 2 ? 128 : 16)!,
        checkRefSize: flagNumber(p, 'check-ref-size'),
        solver: choice<SolverName>(p, 'solver', SOLVER_NAMES, 'auto'),
        tol: flagNumber(p, 'tol', 1e-10),
        maxIterations: flagNumber(p, 'max-iterations'),
        preAsymptoticRadius: flagNumber(p, 'pre-asymptotic'),
        progress,
      });
    },
  },
};

function fmt(v: number): string {
  return Number.isFinite(v) ? v.toExponential(3) : String(v);
}

/** Human-readable table of points, the fits and the verdict. */
export function renderStudy(r: StudyResult): string {
  const measures = r.fits.map((f) => f.measure);
  const lines: string[] = [];
  lines.push(`study ${r.study}: ${r.label} (dimension ${r.dimension})`);
  const head = [r.xLabel.padEnd(22), ...measures.map((m) => m.padStart(16)), 'atoms'.padStart(9), 'iters'.padStart(7), 'max|F|'.padStart(11)];
  lines.push(head.join(' '));
  for (const pt of r.points) {
    const info = pt.info ?? {};
    lines.push(
      [
        pt.x.toFixed(3).padEnd(22),
        ...measures.map((m) => fmt(pt.errors[m]).padStart(16)),
        String(info.atoms ?? '').padStart(9),
        String(info.iterations ?? '').padStart(7),
        (typeof info.maxForce === 'number' ? info.maxForce.toExponential(1) : '').padStart(11),
      ].join(' '),
    );
  }
  lines.push('');
  for (const f of r.fits) {
    lines.push(
      `${f.measure.padEnd(16)} slope ${Number.isFinite(f.slope) ? f.slope.toFixed(3) : 'n/a'} +- ` +
        `${Number.isFinite(f.stderr) ? f.stderr.toFixed(3) : 'n/a'} over [${f.range.join(', ')}] ` +
        `(${f.pointsUsed} points), predicted ${f.predicted} (${f.kind}, tol ${f.tolerance}): ${f.verdict}`,
    );
  }
  lines.push(`drop rule: ${r.dropRule}`);
  for (const n of r.notes ?? []) lines.push(`note: ${n}`);
  lines.push(`verdict: ${r.verdict}   (${r.wallTimeSeconds.toFixed(1)} s)`);
  return lines.join('\n');
}

const subUsage = (): string =>
  Object.entries(SUBCOMMANDS)
    .map(([n, s]) => `  ${n.padEnd(16)} ${s.summary}`)
    .join('\n');

export const command: Command = {
  name: 'study',
  summary: 'run a convergence study and judge its rates against THEORY.md (subcommands: ' + Object.keys(SUBCOMMANDS).join(', ') + ')',
  usage: `mlip-verify study <subcommand> [options] [--json]\n\nsubcommands:\n${subUsage()}\n\n` +
    Object.values(SUBCOMMANDS).map((s) => s.usage).join('\n\n'),
  async run(argv: string[]): Promise<number> {
    const [sub, ...rest] = argv;
    const entry = sub ? SUBCOMMANDS[sub] : undefined;
    if (!entry) {
      console.error(`mlip-verify study: ${sub ? `unknown subcommand '${sub}'` : 'missing subcommand'}\n\nsubcommands:\n${subUsage()}`);
      return 2;
    }
    const p = parseArgs(rest);
    const json = flagBool(p, 'json');
    const result = await entry.run(p, json ? () => {} : (m) => console.error(m));
    if (json) console.log(JSON.stringify(result, null, 2));
    else console.log(renderStudy(result));
    return result.verdict === 'fail' ? 1 : 0;
  },
};

export default command;
