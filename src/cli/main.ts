import { MlipVerifyError } from '../util/errors.ts';
import type { Command } from './command.ts';

/**
 * The command registry. Each command lives in its own file under commands/ and is loaded lazily, so a command's
 * dependencies cost nothing to the others. Add a command: one line here.
 */
const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  // (commands are registered below as they are implemented)
  check: { summary: 'Run the verification checks on the default potentials (or --potential name); table or --json', load: async () => (await import('./commands/check.ts')).command },
  fit: { summary: 'Fit the linear MLIP to a training set (extxyz or generated); write model JSON', load: async () => (await import('./commands/fit.ts')).default },
  study: { summary: 'Convergence studies against THEORY.md (domain P1, perturbation P2, fit-accuracy P3, training-size P4-P6); table and verdict, or --json', load: async () => (await import('./commands/study.ts')).command },
  'export-training': { summary: 'Generate a training set with a reference potential and write it as extxyz', load: async () => (await import('./commands/export-training.ts')).default },
  bench: { summary: 'Run the benchmarks (--quick, --filter s), append to reports/bench/history.jsonl, flag regressions (--compare, --ci)', load: async () => (await import('./commands/bench.ts')).command },
  report: { summary: 'The main job: run the configured convergence studies, write reports/latest/ (JSON, Markdown, HTML with plots)', load: async () => (await import('./commands/report.ts')).command },
};

function help(): string {
  const rows = Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(18)} ${c.summary}`);
  return ['usage: mlip-verify <command> [options]', '', 'commands:', ...rows, '', 'mlip-verify <command> --help for its options'].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(help());
    return name ? 0 : 2;
  }
  const entry = COMMANDS[name];
  if (!entry) {
    console.error(`mlip-verify: unknown command '${name}'\n\n${help()}`);
    return 2;
  }
  const cmd = await entry.load();
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(`${cmd.usage}\n\n${cmd.summary}`);
    return 0;
  }
  try {
    return await cmd.run(rest);
  } catch (e) {
    if (e instanceof MlipVerifyError) {
      console.error(`mlip-verify ${name}: ${e.name}: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

export { COMMANDS };
