/**
 * Synthetic StudyResults for the report's generated tests: the report must render any study (not only domain), so
 * these cover what the studies being written may return: 0-8 points, 1-3 measures with arbitrary names, errors
 * that are positive, zero, negative, NaN or infinite, fits made by the real fitRate (with pre-asymptotic drops and a
 * floor), verdicts 'observed', 'not observed', 'assumption fails' and 'at floor', notes, nested settings with wall times, labels with markup
 * characters. Running real studies here would make the tests slow without testing the report any better.
 */
import fc from 'fast-check';
import { combineVerdicts, fitRate } from '../src/convergence/rate.ts';
import type { PointAssumption, StudyResult, Verdict } from '../src/convergence/types.ts';
import { buildReport, type Report } from '../src/report/model.ts';

const text = fc.string({ unit: 'grapheme', maxLength: 24 });
const measureName = fc.oneof(fc.constantFrom('energyNorm', 'maxNorm', 'formationEnergy', 'forces (E+F)', 'a|b<c>&d'), fc.string({ minLength: 1, maxLength: 12 }));
const errorValue = fc.oneof(
  { weight: 8, arbitrary: fc.double({ min: 1e-12, max: 1e3, noNaN: true }) },
  { weight: 1, arbitrary: fc.constantFrom(0, -1e-3, Number.NaN, Number.POSITIVE_INFINITY) },
);

/** A point's assumption record of the given kind, with evidence that names its numbers (markup characters included). */
export function assumptionOf(kind: 'holds' | 'unstable' | 'basin', gamma: number): PointAssumption {
  const stability = {
    gamma: kind === 'unstable' ? -Math.abs(gamma) - 1e-3 : Math.abs(gamma) + 1e-3,
    mu: 20,
    relative: 0,
    margin: 1e-3,
    verdict: kind === 'unstable' ? ('unstable' as const) : ('strongly stable' as const),
    residual: 1e-3,
    lanczosSteps: 20,
    gammaReference: 3.3,
    referenceVerdict: 'strongly stable' as const,
    referenceRelative: 0.17,
    ratio: NaN,
    ballRadius: 8,
  };
  stability.relative = stability.gamma / stability.mu;
  stability.ratio = stability.gamma / stability.gammaReference;
  const basin = { maxShift: kind === 'basin' ? 0.9 : 1e-3, threshold: 0.25, jumped: kind === 'basin', start: 'reference lattice' };
  return {
    holds: kind === 'holds',
    evidence: kind === 'unstable' ? `<unstable> | gamma^H = ${stability.gamma.toExponential(2)}` : kind === 'basin' ? 'another basin & 0.9 > 0.25' : 'holds',
    stability,
    ...(kind === 'unstable' ? {} : { basin }),
  };
}

export const studyResultArb: fc.Arbitrary<StudyResult> = fc
  .record({
    n: fc.integer({ min: 0, max: 8 }),
    measures: fc.uniqueArray(measureName, { minLength: 1, maxLength: 3 }),
    x0: fc.double({ min: 1e-6, max: 1e4, noNaN: true }),
    ratio: fc.double({ min: 1.05, max: 3, noNaN: true }),
  })
  .chain(({ n, measures, x0, ratio }) =>
    fc.record({
      study: fc.constantFrom('domain' as const, 'perturbation' as const, 'fit-accuracy' as const, 'training-size' as const),
      label: text,
      dimension: fc.integer({ min: 1, max: 3 }),
      xLabel: text,
      xs: fc.constant(Array.from({ length: n }, (_, i) => x0 * ratio ** i)),
      errors: fc.array(fc.array(errorValue, { minLength: measures.length, maxLength: measures.length }), { minLength: n, maxLength: n }),
      measures: fc.constant(measures),
      predicted: fc.array(fc.oneof(fc.double({ min: -4, max: 1, noNaN: true }), fc.constant(Number.NaN)), { minLength: measures.length, maxLength: measures.length }),
      kind: fc.constantFrom('sharp' as const, 'bound' as const),
      dropFirst: fc.integer({ min: 0, max: 2 }),
      floor: fc.option(fc.double({ min: 1e-12, max: 1, noNaN: true }), { nil: undefined }),
      relabel: fc.option(fc.constantFrom<Verdict>('not observed', 'observed', 'assumption fails'), { nil: undefined }),
      notes: fc.option(fc.array(text, { maxLength: 3 }), { nil: undefined }),
      seeds: fc.array(fc.integer({ min: 0, max: 2 ** 31 - 1 }), { maxLength: 3 }),
      wall: fc.double({ min: 0, max: 1e4, noNaN: true }),
      info: fc.boolean(),
      // Per-point assumption records (the training-size study's): holds, unstable at ū, or another basin.
      assumptions: fc.option(fc.array(fc.constantFrom('holds', 'unstable', 'basin'), { minLength: n, maxLength: n }), { nil: undefined }),
      gamma: fc.double({ min: -10, max: 10, noNaN: true }),
    }),
  )
  .map((g) => {
    const points = g.xs.map((x, i) => ({
      x,
      errors: Object.fromEntries(g.measures.map((m, k) => [m, g.errors[i][k]])),
      ...(g.info ? { info: { atoms: 10 * (i + 1), stages: 'lbfgs:3', wallTimeSeconds: 0.1 * i, converged: i % 2 === 0 } } : {}),
      ...(g.assumptions ? { assumption: assumptionOf(g.assumptions[i], g.gamma) } : {}),
    }));
    const fits = g.measures.map((m, k) => {
      const f = fitRate(g.xs, points.map((p) => p.errors[m]), {
        measure: m,
        predicted: g.predicted[k],
        kind: g.kind,
        dropFirst: g.dropFirst,
        floor: g.floor,
      });
      // A hypothesis (observed or not, P3/P5/P6 style), or a prediction whose assumptions fail where measured: the
      // study says so instead of passing or failing.
      return g.relabel && k === 0 && f.verdict !== 'at floor' ? { ...f, verdict: g.relabel } : f;
    });
    const r: StudyResult = {
      study: g.study,
      label: g.label,
      dimension: g.dimension,
      xLabel: g.xLabel,
      points,
      fits,
      verdict: combineVerdicts(fits.map((f) => f.verdict)),
      dropRule: `first ${g.dropFirst} points pre-asymptotic`,
      ...(g.floor !== undefined ? { floor: Object.fromEntries(g.measures.map((m) => [m, g.floor!])) } : {}),
      settings: { solver: 'auto', nested: { wallTimeSeconds: g.wall, tol: 1e-10 } },
      seeds: g.seeds,
      wallTimeSeconds: g.wall,
      ...(g.notes ? { notes: g.notes } : {}),
    };
    return r;
  });

/**
 * The results of a study that compares series (the training-size and worst-case studies: one result per observation
 * set, same abscissa and measures), as the comparison figure needs them.
 */
export const seriesStudyArb: fc.Arbitrary<StudyResult[]> = fc
  .record({
    k: fc.integer({ min: 2, max: 5 }),
    base: studyResultArb,
    study: fc.constantFrom('training-size' as const, 'worst-case' as const),
  })
  .chain(({ k, base, study }) =>
    fc.tuple(...Array.from({ length: k }, () => studyResultArb)).map((others) => {
      const sets = ['E', 'E+F', 'E+F+V', 'E+F+FC', 'E+F+V+FC'];
      return others.map((o, i): StudyResult => {
        // Same abscissa and measures as `base`; errors, fits and floors from the i-th draw where its measures line up.
        const points = base.points.map((p, j) => ({ ...p, errors: Object.fromEntries(Object.entries(p.errors).map(([m, v]) => [m, o.points[j]?.errors[Object.keys(o.points[j].errors)[0]] ?? v])) }));
        const fits = base.fits.map((f) => {
          const g = fitRate(points.map((p) => p.x), points.map((p) => p.errors[f.measure]), { measure: f.measure, predicted: f.predicted, kind: f.kind, dropFirst: 0, floor: o.floor ? Object.values(o.floor)[0] : undefined });
          return g;
        });
        return {
          ...base,
          study,
          label: sets[i],
          points,
          fits,
          verdict: combineVerdicts(fits.map((f) => f.verdict)),
          ...(o.floor ? { floor: Object.fromEntries(base.fits.map((f) => [f.measure, Object.values(o.floor!)[0]])) } : {}),
          settings: { ...base.settings, observationSet: sets[i], floorFactor: 3 },
        };
      });
    }),
  );

export const PROVENANCE = {
  packageName: 'mlip-verify',
  packageVersion: '0.1.0',
  gitCommit: null,
  gitDirty: null,
  node: 'v20.0.0',
  platform: 'linux',
  arch: 'x64',
  cpuModel: 'test cpu',
  cpuCores: 2,
  memoryGiB: 4,
};

/** A report over 1-3 synthetic studies, some of which may have thrown a typed error. */
export const reportArb: fc.Arbitrary<Report> = fc
  .array(
    fc.oneof(
      { weight: 5, arbitrary: fc.array(studyResultArb, { minLength: 1, maxLength: 2 }).map((results) => ({ results, error: undefined })) },
      { weight: 2, arbitrary: seriesStudyArb.map((results) => ({ results, error: undefined })) },
      { weight: 1, arbitrary: text.map((m) => ({ results: [] as StudyResult[], error: { name: 'ConvergenceError', message: m } })) },
    ),
    { minLength: 1, maxLength: 3 },
  )
  .map((runs) =>
    buildReport({
      title: 'synthetic report',
      mode: 'quick',
      config: { studies: runs.map(() => ({ study: 'domain' as const })) },
      provenance: PROVENANCE,
      createdAt: '2026-01-01T00:00:00.000Z',
      argv: ['report'],
      totalWallTimeSeconds: 1,
      studies: runs.map((r, i) => ({
        configIndex: i,
        study: r.results[0]?.study ?? 'domain',
        predictions: 'P?',
        options: {},
        results: r.results,
        ...(r.error ? { error: r.error } : {}),
        wallTimeSeconds: 1,
      })),
    }),
  );
