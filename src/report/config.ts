import { readFileSync } from 'node:fs';
import { isStudyName, loadStudy, STUDY_NAMES, type StudyDefinition, type StudyMode, type StudyName } from '../convergence/registry.ts';
import { formatSchemaErrors, schemaErrors, validatorFor } from '../io/schema.ts';
import { MlipVerifyError, ParameterError, ParseError } from '../util/errors.ts';
import { isBuiltinSpec, parsePotentialSpec, POTENTIAL_SPEC_FORMS } from '../potentials/spec.ts';

/**
 * Options that are lengths, per study: the defaults are presets for the reduced-unit built-ins, so a configuration
 * naming any other potential (Angstrom) must give them itself (SIZE_CONVENTION in src/convergence/study-potential.ts).
 */
export const LENGTH_OPTIONS: Record<StudyName, readonly string[]> = {
  domain: ['sizes', 'refSize'],
  perturbation: ['radius'],
  'fit-accuracy': ['refSize', 'rDom'],
  'training-size': ['sizes', 'refSize'],
  'worst-case': ['sizes', 'refSize'],
};

/** ajv's "must match pattern" on a potential says nothing a user can act on: name the spec's problem and the forms. */
function specMessages(errors: string[], value: Record<string, unknown>): string[] {
  return errors.map((e) => {
    if (!/\/potential: must match pattern/.test(e)) return e;
    let why = 'not a potential spec';
    try {
      parsePotentialSpec(value.potential);
    } catch (err) {
      why = (err as { details?: { reason?: string } }).details?.reason ?? why;
    }
    return `${e.slice(0, e.indexOf('/potential:') + 10)}: '${String(value.potential)}' is not a valid potential spec (${why}); valid forms: ${POTENTIAL_SPEC_FORMS.join(' | ')}`;
  });
}

/**
 * The report configuration (schemas/report-config.schema.json): which studies to run and with which options. It is
 * checked completely before any study runs (the file's schema, then each study's own options schema on the entry's
 * options, its per-mode overrides and the merged result), and every violation is listed by JSON pointer, so a typo
 * in the last entry does not cost the minutes of the first.
 */

export interface ReportConfig {
  $schema?: string;
  title?: string;
  comment?: string;
  mode?: StudyMode;
  studies: Array<{
    study: StudyName;
    comment?: string;
    enabled?: boolean;
    options?: Record<string, unknown>;
    modes?: Partial<Record<StudyMode, Record<string, unknown>>>;
  }>;
}

/** One study to run: its position in the configuration, its definition and its final options. */
export interface ResolvedStudy {
  /** Index into the configuration's `studies` (disabled entries keep their index, so paths stay meaningful). */
  index: number;
  study: StudyName;
  definition: StudyDefinition;
  options: Record<string, unknown>;
  comment?: string;
}

export interface ResolvedConfig {
  title: string;
  mode: StudyMode;
  config: ReportConfig;
  studies: ResolvedStudy[];
}

export const DEFAULT_CONFIG_URL = new URL('./default-config.json', import.meta.url);
const MODES: StudyMode[] = ['quick', 'default', 'thorough'];
export const DEFAULT_TITLE = 'mlip-verify convergence report';

/** Parse JSON text, turning a syntax error into a ParseError with the line it points at. */
export function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message;
    const pos = /position (\d+)/.exec(msg);
    const line = pos ? text.slice(0, Number(pos[1])).split('\n').length : 1;
    throw new ParseError(`invalid JSON: ${msg}`, line, file);
  }
}

/** Read a configuration file (default: the committed src/report/default-config.json). Not validated here. */
export function readConfig(path?: string): { data: unknown; file: string } {
  const url = path ?? DEFAULT_CONFIG_URL;
  const file = path ?? 'src/report/default-config.json';
  let text: string;
  try {
    text = readFileSync(url, 'utf8');
  } catch (e) {
    throw new ParameterError(`cannot read configuration ${file}: ${(e as Error).message}`, { file });
  }
  return { data: parseJson(text, file), file };
}

/** Prefix ajv's instance paths (relative to an options object) with where that object sits in the configuration. */
function prefixed(prefix: string, errors: string[]): string[] {
  return errors.map((e) => (e.startsWith('/: ') ? `${prefix}: ${e.slice(3)}` : `${prefix}${e}`));
}

/**
 * Validate `data` as a report configuration and resolve it for `modeOverride` (the --quick/--thorough flags) or the
 * file's own mode. Throws one ParameterError whose message and `details.violations` list every problem; anything
 * else thrown here is a bug.
 */
export async function resolveConfig(data: unknown, what: string, modeOverride?: StudyMode): Promise<ResolvedConfig> {
  const violations = schemaErrors('report-config', data);
  // Even when the file's own schema fails, every entry that names a known study with an options object is checked
  // against that study's options schema too, so the user sees all problems at once.
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  const config = data as ReportConfig;
  const fileMode = isObj(data) && MODES.includes(data.mode as StudyMode) ? (data.mode as StudyMode) : undefined;
  const mode: StudyMode = modeOverride ?? fileMode ?? 'default';
  const entries: unknown[] = isObj(data) && Array.isArray(data.studies) ? data.studies : [];
  const studies: ResolvedStudy[] = [];
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i];
    if (!isObj(entry) || typeof entry.study !== 'string' || !isStudyName(entry.study) || entry.enabled === false) continue;
    let def: StudyDefinition;
    try {
      def = await loadStudy(entry.study);
    } catch (e) {
      // A study module that does not load (not written yet, or broken) stops the run before anything starts.
      const why = e instanceof MlipVerifyError ? e.message : `study module '${entry.study}' could not be loaded: ${(e as Error).message}`;
      violations.push(`/studies/${i}/study: ${why} (valid studies: ${STUDY_NAMES.join(', ')})`);
      continue;
    }
    let check: ReturnType<typeof validatorFor>;
    try {
      check = validatorFor(`study-options:${def.name}`, def.optionsSchema);
    } catch (e) {
      violations.push(`/studies/${i}/study: the options schema of study ${def.name} does not compile (a bug in the study): ${(e as Error).message}`);
      continue;
    }
    const errs = (path: string, value: unknown): string[] =>
      check(value) ? [] : specMessages(prefixed(path, formatSchemaErrors(check.errors)), isObj(value) ? value : {});
    const options = isObj(entry.options) ? entry.options : {};
    const modes = isObj(entry.modes) ? entry.modes : {};
    const modeOpts = isObj(modes[mode]) ? (modes[mode] as Record<string, unknown>) : {};
    const own = errs(`/studies/${i}/options`, options);
    // Every mode's overrides are checked, not only this run's: a typo under 'thorough' should not wait for a thorough run.
    const over = MODES.flatMap((m) => (isObj(modes[m]) ? errs(`/studies/${i}/modes/${m}`, modes[m]) : []));
    violations.push(...own, ...over);
    if (own.length || over.length) continue;
    const given = { ...options, ...modeOpts };
    const spec = typeof given.potential === 'string' ? given.potential : undefined;
    if (!isBuiltinSpec(spec)) {
      const missing = LENGTH_OPTIONS[def.name].filter((k) => given[k] === undefined);
      if (missing.length) {
        violations.push(
          `/studies/${i}/options: potential '${spec}' is not a reduced-unit built-in, so give ${missing.join(', ')} ` +
            `in its length unit (Angstrom for files and engines; the '${mode}' defaults are reduced-unit presets)`,
        );
        continue;
      }
    }
    const merged = { ...def.defaults(mode), ...(isBuiltinSpec(spec) ? {} : (def.externalDefaults?.(given) ?? {})), ...given };
    // The defaults are the study author's; if they do not validate the bug is theirs, but it must still stop the run.
    const bad = errs(`/studies/${i}/options`, merged);
    violations.push(...bad.map((e) => `${e} (after merging the '${mode}' defaults of study ${def.name})`));
    studies.push({ index: i, study: def.name, definition: def, options: merged, ...(typeof entry.comment === 'string' ? { comment: entry.comment } : {}) });
  }
  if (violations.length > 0) throw invalid(what, violations);
  if (studies.length === 0) throw invalid(what, ['/studies: every entry is disabled; nothing to run']);
  return { title: config.title ?? DEFAULT_TITLE, mode, config, studies };
}

function invalid(what: string, violations: string[]): ParameterError {
  return new ParameterError(`${what} is not a valid report configuration:\n  ${violations.join('\n  ')}`, { violations });
}
