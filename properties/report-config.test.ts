/**
 * Report configurations are checked completely before any work starts: generated invalid configurations (one to
 * three violations planted in a valid one) are rejected with a ParameterError that lists a line for every planted
 * violation, starting with its JSON pointer; arbitrary JSON is either accepted or rejected with a ParameterError,
 * never with anything else; unknown study and potential names list the valid ones; the committed default
 * configuration is valid in every mode, and the schema's study names are the registry's.
 */
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { STUDY_NAMES } from '../src/convergence/registry.ts';
import { loadSchema, schemaErrors } from '../src/io/schema.ts';
import { potentialNames } from '../src/potentials/defaults.ts';
import { readConfig, resolveConfig } from '../src/report/config.ts';
import { ParameterError } from '../src/util/errors.ts';

const validEntry = fc.record(
  {
    study: fc.constant('domain' as const),
    comment: fc.string({ maxLength: 10 }),
    options: fc.record(
      {
        potential: fc.constantFrom('eam-2d', 'morse-2d'),
        defect: fc.constantFrom('vacancy', 'interstitial', 'divacancy'),
        boundary: fc.constantFrom('ball', 'periodic'),
        sizes: fc.array(fc.double({ min: 1, max: 40, noNaN: true }), { minLength: 3, maxLength: 6 }),
        refSize: fc.double({ min: 50, max: 200, noNaN: true }),
        tol: fc.double({ min: 1e-12, max: 1e-4, noNaN: true }),
      },
      { requiredKeys: [] },
    ),
  },
  { requiredKeys: ['study'] },
);
const validConfig = fc.record({ title: fc.string({ minLength: 1, maxLength: 10 }), studies: fc.array(validEntry, { minLength: 1, maxLength: 3 }) }, { requiredKeys: ['studies'] });

type Cfg = { studies: Array<{ study: string; options?: Record<string, unknown>; modes?: Record<string, unknown> }>; [k: string]: unknown };
/** A planted violation: mutates the config and returns the JSON pointer (and a word) its error line must show. */
type Plant = (c: Cfg, i: number, v: number) => { path: string; says: string };
const PLANTS: Plant[] = [
  (c, i, v) => {
    const o = (c.studies[i].options ??= {});
    o.sizes = [8, 11, 16];
    (o.sizes as number[])[v % 3] = -Math.abs(v);
    return { path: `/studies/${i}/options/sizes/${v % 3}`, says: 'must be > 0' };
  },
  (c, i) => {
    (c.studies[i].options ??= {}).potential = 'no-such-potential';
    return { path: `/studies/${i}/options/potential`, says: 'eam-2d' };
  },
  (c, i) => {
    (c.studies[i].options ??= {}).tol = 'small';
    return { path: `/studies/${i}/options/tol`, says: 'must be number' };
  },
  (c, i) => {
    (c.studies[i].options ??= {}).sizess = [1, 2, 3];
    return { path: `/studies/${i}/options`, says: "unknown property 'sizess'" };
  },
  (c, i) => {
    c.studies[i].study = 'domian';
    return { path: `/studies/${i}/study`, says: 'domain, perturbation' };
  },
  (c) => {
    c.colour = 'blue';
    return { path: '/', says: "unknown property 'colour'" };
  },
  (c) => {
    c.mode = 'fast';
    return { path: '/mode', says: 'quick, default, thorough' };
  },
  (c, i) => {
    c.studies[i].modes = { thorough: { refSize: 0 } }; // checked although the run's mode is 'default'
    return { path: `/studies/${i}/modes/thorough/refSize`, says: 'must be > 0' };
  },
];

async function violations(data: unknown): Promise<string[] | 'accepted'> {
  try {
    await resolveConfig(data, 'test config');
    return 'accepted';
  } catch (e) {
    expect(e).toBeInstanceOf(ParameterError);
    return (e as ParameterError).details.violations as string[];
  }
}

describe('report configuration', () => {
  it('planted violations are all reported, each by its path', async () => {
    await fc.assert(
      fc.asyncProperty(
        validConfig,
        fc.array(fc.tuple(fc.nat(PLANTS.length - 1), fc.nat(), fc.integer({ min: 0, max: 100 })), { minLength: 1, maxLength: 3 }),
        async (cfg, plants) => {
          const c = structuredClone(cfg) as Cfg;
          const expected = new Map<string, string>();
          const used = new Set<string>();
          for (const [k, iRaw, v] of plants) {
            const i = iRaw % c.studies.length;
            // one planted violation per (kind, entry); a renamed study has no options check, so skip those on it
            if (used.has(`${k}:${i}`) || used.has(`4:${i}`) || (k === 4 && [...used].some((u) => u.endsWith(`:${i}`)))) continue;
            used.add(`${k}:${i}`);
            const { path, says } = PLANTS[k](c, i, v);
            expected.set(`${path}|${says}`, path);
          }
          const got = await violations(c);
          expect(got).not.toBe('accepted');
          for (const [key, path] of expected) {
            const says = key.slice(path.length + 1);
            expect((got as string[]).some((l) => l.startsWith(`${path}: `) && l.includes(says)), `${path} ${says} in ${JSON.stringify(got)}`).toBe(true);
          }
        },
      ),
      { seed: 64, numRuns: 80 },
    );
  });

  it('valid generated configurations are accepted, options merged over the mode defaults', async () => {
    await fc.assert(
      fc.asyncProperty(validConfig, async (cfg) => {
        const r = await resolveConfig(structuredClone(cfg), 'test config', 'quick');
        expect(r.studies).toHaveLength(cfg.studies.length);
        r.studies.forEach((s, i) => {
          const want = { ...s.definition.defaults('quick'), ...(cfg.studies[i].options ?? {}) };
          expect(s.options).toEqual(want);
        });
      }),
      { seed: 65, numRuns: 40 },
    );
  });

  it('arbitrary JSON is accepted or rejected with a ParameterError, never anything else', async () => {
    const arbitrary = fc.oneof(
      fc.jsonValue(),
      fc.record({ studies: fc.array(fc.dictionary(fc.constantFrom('study', 'options', 'modes', 'enabled', 'x'), fc.jsonValue()), { maxLength: 3 }) }),
      fc.record({ studies: fc.array(fc.record({ study: fc.constantFrom(...STUDY_NAMES), options: fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue()) }), { maxLength: 2 }) }),
    );
    await fc.assert(
      fc.asyncProperty(arbitrary, async (data) => {
        const v = await violations(data);
        if (v !== 'accepted') {
          expect(v.length).toBeGreaterThan(0);
          for (const line of v) expect(line).toMatch(/^\/\S*: /);
        }
      }),
      { seed: 66, numRuns: 150 },
    );
  });

  it('unknown names list the valid ones', async () => {
    const v = (await violations({ studies: [{ study: 'domain', options: { potential: 'eam-3d' } }, { study: 'relax' }] })) as string[];
    expect(v.find((l) => l.startsWith('/studies/0/options/potential: '))).toContain(potentialNames().join(', '));
    expect(v.find((l) => l.startsWith('/studies/1/study: '))).toContain(STUDY_NAMES.join(', '));
  });

  it('the committed default configuration is valid in every mode and runs only registered, enabled studies', async () => {
    const { data, file } = readConfig();
    expect(schemaErrors('report-config', data)).toEqual([]);
    for (const mode of ['quick', 'default', 'thorough'] as const) {
      const r = await resolveConfig(data, file, mode);
      expect(r.studies.length).toBeGreaterThan(0);
      expect(r.mode).toBe(mode);
    }
    const enums = (loadSchema('report-config') as any).properties.studies.items.properties.study.enum;
    expect(enums).toEqual([...STUDY_NAMES]);
    // the file is the one the CLI reads by default
    expect(JSON.parse(readFileSync(new URL('../src/report/default-config.json', import.meta.url), 'utf8'))).toEqual(data);
  });
});
