import type { StudyResult } from './types.ts';

/**
 * The study registry: what `mlip-verify report` (and any programmatic caller) needs to run a study from a JSON
 * configuration. Each study module exports `definition: StudyDefinition`; the registry loads them lazily so a
 * report that runs one study does not import the others. The CLI's `study <name>` flags and a report's config
 * entry map onto the same options object.
 */

export const STUDY_NAMES = ['domain', 'perturbation', 'fit-accuracy', 'training-size', 'worst-case'] as const;
export type StudyName = (typeof STUDY_NAMES)[number];

/** quick: CI-sized (seconds to a minute); default: the README's main job (a few minutes for all studies together);
 * thorough: larger sizes and more points, for people writing convergence reports. */
export type StudyMode = 'quick' | 'default' | 'thorough';

export interface StudyContext {
  mode: StudyMode;
  /** One line of progress text (the report shows it on stderr with elapsed time; quiet when not a TTY). */
  progress: (msg: string) => void;
  /**
   * Runs independent tasks of this study (see StudyDefinition.runTask) and returns their results in task order:
   * on the report's worker pool when it has one, so a study's points use both cores. Absent: the study runs its
   * tasks itself, in order, in this thread. Either way the results are the same values.
   */
  runTasks?: (tasks: unknown[]) => Promise<unknown[]>;
}

export interface StudyDefinition {
  name: StudyName;
  /** Which predictions of THEORY.md it checks, e.g. 'P1' or 'P4-P6'. */
  predictions: string;
  summary: string;
  /**
   * JSON Schema (draft 2020-12 subset that ajv compiles) of this study's options object in a configuration file,
   * with `additionalProperties: false`, enums for names (potentials, defects, observation sets) and bounds on
   * numbers, so that an invalid configuration is rejected before any work starts with the path of each violation.
   */
  optionsSchema: Record<string, unknown>;
  /** The options used for keys a configuration leaves out, per mode. Must validate against optionsSchema. */
  defaults(mode: StudyMode): Record<string, unknown>;
  /**
   * Optional: defaults that differ for a potential that is not a reduced-unit built-in (files, engines, models), given
   * the options a user set; they sit between defaults(mode) and the user's options, in the CLI and in report configs.
   */
  externalDefaults?(given: Record<string, unknown>): Record<string, unknown>;
  /** Run with options already validated and merged over defaults(mode). One StudyResult per label (e.g. per
   * observation set for training-size). Throws typed MlipVerifyErrors on failure (never returns a fake pass). */
  run(options: Record<string, unknown>, ctx: StudyContext): Promise<StudyResult[]>;
  /**
   * Optional: one independent task of a run (e.g. one point of one observation set), with the same options, as data
   * in and data out (structured-cloneable), so that a worker thread can run it. A study that has it asks for its
   * tasks through ctx.runTasks; a study without it runs whole on one worker.
   */
  runTask?(options: Record<string, unknown>, task: unknown, ctx: Omit<StudyContext, 'runTasks'>): Promise<unknown>;
}

const LOADERS: Record<StudyName, () => Promise<{ definition: StudyDefinition }>> = {
  domain: () => import('./domain-study.ts'),
  perturbation: () => import('./perturbation-study.ts'),
  'fit-accuracy': () => import('./fit-accuracy-study.ts'),
  'training-size': () => import('./training-size-study.ts'),
  'worst-case': () => import('./worst-case-study.ts'),
};

export function isStudyName(s: string): s is StudyName {
  return (STUDY_NAMES as readonly string[]).includes(s);
}

export async function loadStudy(name: string): Promise<StudyDefinition> {
  if (!isStudyName(name)) {
    const { ParameterError } = await import('../util/errors.ts');
    throw new ParameterError(`unknown study '${name}'; valid studies: ${STUDY_NAMES.join(', ')}`);
  }
  return (await LOADERS[name]()).definition;
}
