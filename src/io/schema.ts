import { readFileSync } from 'node:fs';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { ParameterError } from '../util/errors.ts';

/**
 * JSON Schemas of the files mlip-verify reads and writes live in `schemas/` at the top of the repo (one file per
 * format, named `<name>.schema.json`), so that users and CI can validate with any tool. This module compiles them with
 * ajv once per process and turns every violation into a line `path: expectation` (e.g. `/studies/0/sizes/2: must be
 * > 0`), all of them, so a user fixes a configuration in one pass.
 */
const SCHEMA_DIR = new URL('../../schemas/', import.meta.url);

const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
const compiled = new Map<string, ValidateFunction>();

/** The parsed schema `schemas/<name>.schema.json`. */
export function loadSchema(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL(`${name}.schema.json`, SCHEMA_DIR), 'utf8')) as Record<string, unknown>;
}

function validator(name: string): ValidateFunction {
  let v = compiled.get(name);
  if (!v) {
    v = ajv.compile(loadSchema(name));
    compiled.set(name, v);
  }
  return v;
}

/** Compile a schema given inline (e.g. a study's options schema) and cache it under `key`. */
export function validatorFor(key: string, schema: Record<string, unknown>): ValidateFunction {
  let v = compiled.get(key);
  if (!v) {
    v = ajv.compile(schema);
    compiled.set(key, v);
  }
  return v;
}

/** One line per violation: JSON pointer of the offending value (or `/` for the root), then what was expected. */
export function formatSchemaErrors(errors: ErrorObject[] | null | undefined): string[] {
  return (errors ?? []).map((e) => {
    const path = e.instancePath || '/';
    let msg = e.message ?? 'is invalid';
    if (e.keyword === 'additionalProperties') msg = `unknown property '${(e.params as { additionalProperty: string }).additionalProperty}'`;
    else if (e.keyword === 'enum') msg = `must be one of: ${((e.params as { allowedValues: unknown[] }).allowedValues).map(String).join(', ')}`;
    return `${path}: ${msg}`;
  });
}

/** Violations of `data` against `schemas/<name>.schema.json`; empty when valid. */
export function schemaErrors(name: string, data: unknown): string[] {
  const v = validator(name);
  return v(data) ? [] : formatSchemaErrors(v.errors);
}

/** Throw a ParameterError listing every violation (with `what`, e.g. the file name) unless `data` is valid. */
export function assertValid(name: string, data: unknown, what: string): void {
  const errs = schemaErrors(name, data);
  if (errs.length > 0) {
    throw new ParameterError(`${what} does not match schemas/${name}.schema.json:\n  ${errs.join('\n  ')}`, { violations: errs });
  }
}
