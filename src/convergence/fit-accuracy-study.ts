import { LinearTrainer, type LinearFitOptions } from '../fit/linear.ts';
import type { KindWeights } from '../fit/types.ts';
import type { DefectKind } from '../lattice/domain.ts';
import type { LatticeName } from '../lattice/lattice.ts';
import { envelopeFromDescription, validateSpec, type BasisSpec } from '../mlip/basis.ts';
import type { SitePotential } from '../potentials/types.ts';
import { errorStep, fitStep, mlipRelaxStep, referenceStep, trainingStep, type ErrorRecord, type MlipRelaxRecord } from '../pipeline/steps.ts';
import { SOLVER_NAMES, type SolverName } from '../relax/types.ts';
import { MlipVerifyError, ParameterError, requireParam } from '../util/errors.ts';
import { defectNeighbourGraph, displacementErrors } from './errors.ts';
import { freeForces, solveHessian } from './linear-response.ts';
import { combineVerdicts, fitRate } from './rate.ts';
import { applyAssumptions, BASIN_JUMP_FRACTION } from './branch.ts';
import type { StudyContext, StudyDefinition, StudyMode } from './registry.ts';
import type { RateFit, StudyPoint, StudyResult, Verdict } from './types.ts';
import { SETUP_OPTIONS_SCHEMA } from './schema-parts.ts';
import { runOnPotential, type StudyPotentialOptions } from './study-potential.ts';

/**
 * P3, fit accuracy (THEORY.md section 3, docs/theory.md P3): one fixed training set, a nested family of linear MLIP
 * bases (FIT_FAMILY below, or given specs), each fitted with the linear trainer and its defect relaxed
 * in the reference ball. x = the training force RMSE of the fit, y = the simulation errors (energy norm, max norm,
 * E_f) against the reference relaxed in the same ball.
 *
 * Prediction: the framework's bound ||D(ū^H - ū)|| <= (2/γ) ||δE^H(ū) - δE(ū)||_{(H^1)^*} is linear in the force
 * residual at ū, and to first order ū^H - ū = -(δ²E)^{-1}(δE^H - δE)(ū) is a linear image of it. When the training
 * set covers the environments of ū and a richer basis reduces the force error on them roughly uniformly, the
 * residual at ū is proportional to the training RMSE and so is every error measure (E_f too: its error is first order
 * in the model error, unlike P1's, because the two models differ at the same geometry). We judge the geometry slopes
 * (energy and max norm) as sharp, |p - 1| <= 0.25, as docs/theory.md section 4 does; the proportionality of the
 * training RMSE to the dual norm at ū is an empirical hypothesis of this study, not a theorem, and a failure would say
 * that the training set weighs the environments of ū differently from the simulation. The E_f slope is a hypothesis
 * ('not observed' when missed): its error is the core site-energy error, which the training RMSEs average away.
 *
 * The trainer's smoothness prior (LinearTrainer: lambda |Gamma c|^2, Gamma ~ (1 + degree)^2, default lambda 1e-10
 * relative to the column norms) is what keeps the richer levels relaxable (THEORY.md section 5); a level whose
 * relaxation still fails is recorded as a failed point with the solver's reason and left out of the fit by the
 * non-finite-error rule, never silently.
 *
 * Truncation: the MLIP is relaxed in the reference's own clamped ball, so the error measured is the error of the
 * ball problem. referenceStep's truncation estimate (reference ball vs infinite lattice) is recorded, but what can
 * contaminate the rate is how much the *error* depends on the ball: both models' truncation errors nearly cancel in
 * it. Each model is therefore also relaxed in the half-radius check ball, and |err(R) - err(R/2)| must be <= 1/3 of
 * err(R) for every fitted point, or the study fails. Each MLIP relaxation's own error is estimated as
 * ||D H^{-1} F_res|| and must be <= 1/10 of the measured energy-norm error.
 */

export type LevelSpec = Pick<BasisSpec, 'pairFunctions' | 'densityFunctions' | 'embeddingOrder' | 'angularFunctions' | 'angularDegree'>;

export interface FitAccuracyStudyOptions {
  /** Reference potential name (default eam-2d); `pot` overrides it. */
  potential?: string;
  params?: Record<string, number>;
  pot?: SitePotential;
  lattice?: LatticeName;
  defect: DefectKind;
  /** Radius of the reference ball (the MLIPs are relaxed in it too). */
  refSize: number;
  /** Half-size check ball (reference truncation and error sensitivity); default refSize / 2. */
  checkRefSize?: number;
  /** Periodic training cell side (one fixed set for every model). */
  rDom: number;
  observations?: string;
  rattled?: number;
  rattleAmplitude?: number;
  seed?: number;
  /** Nested basis family: indices into FIT_FAMILY (1..5) or explicit level specs; must be nested (checked). */
  levels: Array<number | LevelSpec>;
  /** Per-kind fit weights (default 1 each). */
  weights?: KindWeights;
  lambda?: number;
  priorPower?: number;
  solver?: SolverName;
  tol?: number;
  /** Time limit of each MLIP relaxation in seconds (a failing model is recorded as failed). Default 60. */
  timeLimitSeconds?: number;
  tolerance?: number;
  progress?: (msg: string) => void;
}

export const P3_MEASURES = ['energyNorm', 'maxNorm', 'formationEnergy'] as const;

/**
 * The P3 family: nested specs between DEFAULT_LEVELS 2 and 4 (19, 25, 58, 79, 130 functions with the default
 * envelope). Finer steps than DEFAULT_LEVELS, because the slope is only defined in the linear-response regime (see
 * the drop rule) and DEFAULT_LEVELS 1-2 sit outside it for some defects; level 1 of DEFAULT_LEVELS (8 functions, force
 * RMSE ~1) is left out for that reason. A spec with more density functions but no angular part (5, 3, 2, 0, 0) was
 * tried and its vacancy relaxation stalls at max|F| ~ 2e-5 (a soft or unstable model), so the angular functions grow
 * with the radial ones.
 */
export const FIT_FAMILY: readonly LevelSpec[] = [
  { pairFunctions: 6, densityFunctions: 3, embeddingOrder: 2, angularFunctions: 2, angularDegree: 2 },
  { pairFunctions: 8, densityFunctions: 4, embeddingOrder: 2, angularFunctions: 2, angularDegree: 2 },
  { pairFunctions: 9, densityFunctions: 4, embeddingOrder: 3, angularFunctions: 3, angularDegree: 3 },
  { pairFunctions: 10, densityFunctions: 5, embeddingOrder: 3, angularFunctions: 3, angularDegree: 3 },
  { pairFunctions: 12, densityFunctions: 6, embeddingOrder: 3, angularFunctions: 4, angularDegree: 4 },
];
const LEVEL_KEYS = ['pairFunctions', 'densityFunctions', 'embeddingOrder', 'angularFunctions', 'angularDegree'] as const;

function resolveLevels(levels: Array<number | LevelSpec>): LevelSpec[] {
  const out = levels.map((l) => {
    if (typeof l === 'number') {
      if (!Number.isInteger(l) || l < 1 || l > FIT_FAMILY.length) {
        throw new ParameterError(`basis level ${l} is not an integer in 1..${FIT_FAMILY.length} (FIT_FAMILY)`);
      }
      return FIT_FAMILY[l - 1];
    }
    return l;
  });
  for (let i = 1; i < out.length; i++) {
    for (const k of LEVEL_KEYS) {
      if (!(out[i][k] >= out[i - 1][k])) {
        throw new ParameterError(`basis levels are not nested: level ${i + 1} has ${k} ${out[i][k]} < ${out[i - 1][k]} of level ${i}`);
      }
    }
    if (LEVEL_KEYS.every((k) => out[i][k] === out[i - 1][k])) throw new ParameterError(`basis levels ${i} and ${i + 1} are equal`);
  }
  return out;
}

export async function fitAccuracyStudy(o: FitAccuracyStudyOptions): Promise<StudyResult> {
  const t0 = performance.now();
  const log = o.progress ?? (() => {});
  if (o.levels.length < 3) throw new ParameterError(`fit-accuracy study needs at least 3 basis levels, got ${o.levels.length}`);
  const levels = resolveLevels(o.levels);
  // Labels for reports: the FIT_FAMILY index, or 'custom k' for a given spec (entries below keep the position k).
  const ids = o.levels.map((l, i) => (typeof l === 'number' ? `F${l}` : `custom ${i + 1}`));
  requireParam('refSize', o.refSize, (v) => v > 0, '> 0');
  const checkRef = o.checkRefSize ?? o.refSize / 2;
  requireParam('checkRefSize', checkRef, (v) => v > 0 && v < o.refSize, `> 0 and < refSize ${o.refSize}`);
  const tol = o.tol ?? 1e-10;
  const solver = o.solver ?? 'auto';
  const timeLimitSeconds = o.timeLimitSeconds ?? 60;
  const potName = o.potential ?? (o.pot ? o.pot.name : 'eam-2d');
  const refOpts = { potential: potName, params: o.params, pot: o.pot, lattice: o.lattice, defect: o.defect, tol, solver };

  log(`reference: ${o.defect} in a clamped ball R = ${o.refSize} (check ball R = ${checkRef})`);
  const ref = referenceStep({ ...refOpts, refSize: o.refSize, checkRefSize: checkRef });
  const half = referenceStep({ ...refOpts, refSize: checkRef, checkRefSize: 0 });
  const lattice = ref.lattice;
  const d = lattice.dim;
  if (d !== 2 && d !== 3) throw new ParameterError(`dimension ${d} is not supported by the MLIP basis`);
  const env = envelopeFromDescription(ref.pot.describe());
  const cutoff = env?.cutoff ?? ref.pot.cutoff;
  const rin = env?.rin ?? 0.76 * cutoff;
  log(`training set: ${o.defect} cell R_dom = ${o.rDom}, ${o.observations ?? 'E+F+V'}, ${o.rattled ?? 4} rattled copies`);
  const training = await trainingStep(ref, {
    rDom: o.rDom,
    observations: o.observations ?? 'E+F+V',
    rattled: o.rattled ?? 4,
    rattleAmplitude: o.rattleAmplitude,
    seed: o.seed ?? 1,
    cutoff,
  });
  const graph = defectNeighbourGraph(lattice, o.defect);

  const points: StudyPoint[] = [];
  const failed: string[] = [];
  const sensitivity: Array<{ level: number; ok: boolean; relative: Record<string, number> }> = [];
  const resolution: Array<{ level: number; solverError: number; energyNorm: number; ok: boolean }> = [];
  const regime: Array<{ level: number; nonlinearity: number; linear: boolean }> = [];
  for (let i = 0; i < levels.length; i++) {
    const spec: BasisSpec = { dim: d, cutoff, rmin: 0.6, envelope: { kind: 'smooth', rin }, oneBody: true, ...levels[i] };
    validateSpec(spec);
    const fitOpts: LinearFitOptions = { basis: spec, weights: o.weights, lambda: o.lambda, priorPower: o.priorPower };
    const fit = await fitStep(training, { trainer: new LinearTrainer(fitOpts) });
    const rep = fit.model.report as { basisSize: number; errors: Record<string, { rmse: number }>; weightedResidual: number; rank: number; conditionSolved: number; lambda: number };
    const x = rep.errors.F?.rmse;
    if (!(x !== undefined && Number.isFinite(x) && x > 0)) {
      throw new ParameterError(`level ${ids[i]}: the fit reports no positive training force RMSE (observations must include F)`);
    }
    const info: Record<string, unknown> = {
      level: ids[i],
      spec: levels[i],
      basisSize: rep.basisSize,
      trainingErrors: Object.fromEntries(Object.entries(rep.errors).map(([k, v]) => [k, v.rmse])),
      weightedResidual: rep.weightedResidual,
      rank: rep.rank,
      conditionSolved: rep.conditionSolved,
      lambda: rep.lambda,
    };
    let m: MlipRelaxRecord;
    let e: ErrorRecord;
    try {
      m = mlipRelaxStep(ref, fit, { tol, solver, timeLimitSeconds });
      e = errorStep(ref, m);
    } catch (err) {
      if (!(err instanceof MlipVerifyError)) throw err;
      const reason = `${err.name}: ${err.message}`;
      failed.push(`level ${ids[i]} (${rep.basisSize} functions, force RMSE ${x.toExponential(2)}): ${reason}`);
      log(`level ${ids[i]}: ${rep.basisSize} functions, F RMSE ${x.toExponential(3)}: relaxation FAILED (${reason})`);
      points.push({ x, errors: { energyNorm: NaN, maxNorm: NaN, formationEnergy: NaN }, info: { ...info, failed: reason } });
      regime.push({ level: i + 1, nonlinearity: NaN, linear: false });
      continue;
    }
    const errors = { energyNorm: e.energyNorm, maxNorm: e.maxNorm, formationEnergy: e.formationEnergy };
    // Error sensitivity to the ball: the same model in the half ball.
    let halfErr: Record<string, number> | null = null;
    try {
      const eh = errorStep(half, mlipRelaxStep(half, fit, { tol, solver, timeLimitSeconds }));
      halfErr = { energyNorm: eh.energyNorm, maxNorm: eh.maxNorm, formationEnergy: eh.formationEnergy };
    } catch (err) {
      if (!(err instanceof MlipVerifyError)) throw err;
      info.halfBallFailure = `${err.name}: ${err.message}`;
    }
    const relative: Record<string, number> = {};
    for (const k of P3_MEASURES) relative[k] = halfErr ? Math.abs(errors[k] - halfErr[k]) / errors[k] : NaN;
    sensitivity.push({ level: i + 1, ok: P3_MEASURES.every((k) => relative[k] <= 1 / 3), relative });
    // A-posteriori solver error of the MLIP relaxation.
    const r = m.relaxation;
    const F = freeForces(fit.model.potential, r.result.structure, r.domain.free);
    const normOf = (u: Float64Array): number =>
      displacementErrors({ dim: d, keys: r.domain.keys, u, extension: 'zero' }, { dim: d, keys: [], u: new Float64Array(0), extension: 'zero' }, graph).energyNorm;
    let solverError: number;
    try {
      solverError = normOf(solveHessian(fit.model.potential, r.result.structure, r.domain.free, F, { relTol: 1e-3 }).x);
    } catch (err) {
      // Negative curvature of the MLIP's Hessian at its own relaxed defect: a saddle, outside the theory.
      if (!(err instanceof MlipVerifyError)) throw err;
      solverError = NaN;
      info.mlipHessianFailure = `${err.name}: ${err.message}`;
    }
    resolution.push({ level: i + 1, solverError, energyNorm: errors.energyNorm, ok: solverError <= errors.energyNorm / 10 });
    // Linear-response regime (the hypothesis of the framework's bound): the first-order prediction
    // δ = (δ²E(ū))^{-1} F^H(ū) from the MLIP's force residual at the reference solution must account for the actual
    // error ū^H - ū to within half of it; otherwise the MLIP is too far from V (another state, a soft core) and the
    // point is pre-asymptotic for P3.
    const rr = ref.relaxation;
    if (r.domain.keys.length !== rr.domain.keys.length || r.domain.keys.some((k, j) => k !== rr.domain.keys[j])) {
      throw new ParameterError('the MLIP ball and the reference ball have different sites (cutoffs differ); cannot compare displacements');
    }
    const FH = freeForces(fit.model.potential, rr.result.structure, rr.domain.free);
    const lin = solveHessian(ref.pot, rr.result.structure, rr.domain.free, FH, { relTol: 1e-8 });
    const dev = new Float64Array(lin.x.length);
    for (let k = 0; k < dev.length; k++) dev[k] = r.displacement[k] - rr.displacement[k] - lin.x[k];
    const nonlinearity = normOf(dev) / errors.energyNorm;
    regime.push({ level: i + 1, nonlinearity, linear: nonlinearity <= 0.5 });
    log(
      `level ${ids[i]}: ${rep.basisSize} functions, F RMSE ${x.toExponential(3)}: energy norm ${errors.energyNorm.toExponential(3)}, ` +
        `max ${errors.maxNorm.toExponential(3)}, E_f ${errors.formationEnergy.toExponential(3)}`,
    );
    points.push({
      x,
      errors,
      info: {
        ...info,
        atoms: r.domain.keys.length,
        iterations: r.result.iterations,
        maxForce: r.result.maxForce,
        solverErrorEstimate: solverError,
        nonlinearity: regime[regime.length - 1].nonlinearity,
        mlipE0: m.e0,
        latticeStress: m.latticeStress,
        halfBallErrors: halfErr,
        referenceAdequate: e.referenceAdequate,
        // Basin change: the MLIP's minimum is not on the reference's branch if an atom ends more than
        // BASIN_JUMP_FRACTION r0 from the reference (the max norm of the error, both in the same clamped ball).
        leftBranch: errors.maxNorm > BASIN_JUMP_FRACTION * lattice.r0,
      },
    });
  }
  const jumped = points
    .filter((p) => p.info?.leftBranch === true)
    .map((p) => ({ maxShift: p.errors.maxNorm, atom: null, threshold: BASIN_JUMP_FRACTION * lattice.r0 }));

  const tolerance = o.tolerance ?? 0.25;
  const xs = points.map((p) => p.x);
  // Pre-asymptotic: every level up to the last one outside the linear-response regime (or that failed).
  let dropFirst = 0;
  regime.forEach((g, j) => {
    if (!g.linear) dropFirst = j + 1;
  });
  const fits: RateFit[] = P3_MEASURES.map((k) => {
    const f0 = fitRate(
      xs,
      points.map((p) => (p.info?.leftBranch === true ? NaN : p.errors[k])),
      { measure: k, predicted: 1, kind: 'sharp', tolerance, dropFirst },
    );
    for (const dp of f0.dropped) {
      if (points[dp.index].info?.leftBranch === true) dp.reason = 'the MLIP relaxation left the reference branch (basin change)';
    }
    const f = applyAssumptions(f0, jumped, null, o.defect, lattice.r0);
    if (f.verdict === 'assumption fails') return f;
    // E_f is first order in the site-energy error at the core, which neither the force RMSE nor the per-atom energy
    // RMSE of the training set controls (measured: it can stall while both fall), so slope 1 for E_f is a hypothesis:
    // a miss is 'not observed', never a pass.
    if (k === 'formationEnergy' && f.verdict === 'fail' && Number.isFinite(f.slope)) {
      return { ...f, verdict: 'not observed' as const, explanation: `${f.explanation.replace(/: fail$/, '')}: not observed (hypothesis for E_f)` };
    }
    if (k === 'formationEnergy' && f.verdict === 'pass') return { ...f, verdict: 'observed' as const, explanation: `${f.explanation.replace(/: pass$/, '')}: observed (hypothesis for E_f)` };
    return f;
  });
  const verdicts: Verdict[] = fits.map((f) => f.verdict);
  const notes: string[] = [];
  notes.push(
    `linear-response regime ||D(u^H - u - δ)|| / ||D(u^H - u)|| per level (δ = H^{-1} F^H(ū), <= 0.5 required): ` +
      regime.map((g) => `${ids[g.level - 1]}: ${Number.isFinite(g.nonlinearity) ? g.nonlinearity.toFixed(3) : 'failed'}`).join(', ') +
      `; ${dropFirst} level(s) dropped as pre-asymptotic`,
  );
  if (failed.length) {
    notes.push(`MLIP relaxation failed (point kept with NaN errors, excluded from the fit by the non-finite rule): ${failed.join('; ')}`);
  }
  // Only fitted levels matter: a pre-asymptotic level may sit in another state whose error depends on the ball.
  const badSens = sensitivity.filter((s) => !s.ok && s.level > dropFirst);
  if (badSens.length) {
    verdicts.push('fail');
    notes.push(
      `the measured error depends on the ball by more than 1/3 at level(s) ${badSens.map((s) => ids[s.level - 1]).join(', ')} ` +
        `(|err(R) - err(R/2)| / err(R): ${badSens.map((s) => JSON.stringify(s.relative)).join('; ')}); use a larger refSize`,
    );
  } else if (sensitivity.some((s) => s.level > dropFirst)) {
    const worst = Math.max(...sensitivity.filter((s) => s.level > dropFirst).flatMap((s) => P3_MEASURES.map((k) => s.relative[k])));
    notes.push(
      `ball sensitivity (fitted levels): the errors change by at most ${(100 * worst).toFixed(2)}% between the reference ball R = ${o.refSize} ` +
        `and the check ball R = ${checkRef} (required <= 33%), so the rate is the model's, not the domain's`,
    );
  } else if (sensitivity.length) {
    notes.push('ball sensitivity: not applicable, no level is left to fit a rate on');
  }
  const badRes = resolution.filter((r) => !r.ok);
  if (badRes.length) {
    verdicts.push('fail');
    notes.push(
      `MLIP relaxation error estimate above 1/10 of the measured error, or the MLIP Hessian not positive at its relaxed ` +
        `defect (NaN), at level(s) ${badRes.map((r) => `${ids[r.level - 1]} (${r.solverError.toExponential(2)})`).join(', ')}; tighten --tol or inspect the model`,
    );
  } else if (resolution.length) {
    notes.push(
      `MLIP relaxations: max|F| <= ${tol}; the estimated solver error ||D H^{-1} F_res|| is at most ` +
        `${Math.max(...resolution.map((r) => r.solverError / r.energyNorm)).toExponential(2)} of the measured energy-norm error`,
    );
  }
  const trunc = ref.truncation?.estimate;
  if (trunc) {
    notes.push(
      `reference ball truncation against the infinite lattice (referenceStep estimate): energy norm ${trunc.energyNorm.toExponential(2)}, ` +
        `max norm ${trunc.maxNorm.toExponential(2)}, E_f ${trunc.formationEnergy.toExponential(2)}; the MLIP is relaxed in the same ball, ` +
        'so this enters the measured error only through the difference of the two models\' truncation errors (the ball sensitivity above)',
    );
  }
  notes.push(
    `linear trainer with its smoothness prior (lambda ${o.lambda ?? 1e-10}, priorPower ${o.priorPower ?? 2}); x is the unweighted training force RMSE`,
  );
  return {
    study: 'fit-accuracy',
    label: `${o.defect} ${lattice.name} ${potName}, training R_dom=${o.rDom} ${training.inputs.observations}, ${levels.length} nested bases`,
    dimension: d,
    xLabel: 'training force RMSE',
    points,
    fits,
    verdict: combineVerdicts(verdicts),
    dropRule:
      'pre-asymptotic: every level up to the last one outside the linear-response regime of the framework (the first-order ' +
      'prediction H^{-1} F^H(ū) misses the actual error by more than half of it, or the relaxation failed) is dropped ' +
      `(${dropFirst} here); no floor applies; a failed level has NaN errors, with its reason in the notes`,
    settings: {
      lattice: lattice.name,
      r0: lattice.r0,
      potential: ref.pot.describe(),
      potentialName: potName,
      defect: o.defect,
      refSize: o.refSize,
      checkRefSize: checkRef,
      reference: {
        atoms: ref.relaxation.domain.keys.length,
        maxForce: ref.relaxation.result.maxForce,
        formationEnergy: ref.relaxation.formationEnergyExact,
        truncation: ref.truncation,
      },
      training: { inputs: training.inputs, composition: training.composition, cellRelaxation: training.cellRelaxation },
      basis: { cutoff, rin, rmin: 0.6, envelope: 'smooth' },
      levels: levels.map((l, i) => ({ id: ids[i], ...l })),
      weights: o.weights ?? {},
      lambda: o.lambda ?? 1e-10,
      priorPower: o.priorPower ?? 2,
      ballSensitivity: sensitivity,
      regime,
      resolution,
      solver,
      tol,
      timeLimitSeconds,
      tolerance,
    },
    seeds: training.seeds,
    wallTimeSeconds: (performance.now() - t0) / 1000,
    notes,
  };
}

/** Registry entry (see registry.ts): the P3 study driven by a configuration object. */
export const definition: StudyDefinition = {
  name: 'fit-accuracy',
  predictions: 'P3',
  summary: 'nested MLIP bases fitted on one training set: simulation errors against the training force RMSE, slope 1',
  optionsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      ...SETUP_OPTIONS_SCHEMA,
      refSize: { type: 'number', exclusiveMinimum: 0 },
      checkRefSize: { type: 'number', exclusiveMinimum: 0 },
      rDom: { type: 'number', exclusiveMinimum: 0 },
      observations: { enum: ['E+F', 'E+F+V', 'E+F+FC', 'E+F+V+FC'] },
      rattled: { type: 'integer', minimum: 0 },
      rattleAmplitude: { type: 'number', minimum: 0 },
      seed: { type: 'integer' },
      levels: {
        type: 'array',
        minItems: 3,
        items: {
          anyOf: [
            { type: 'integer', minimum: 1, maximum: FIT_FAMILY.length },
            {
              type: 'object',
              additionalProperties: false,
              required: [...LEVEL_KEYS],
              properties: Object.fromEntries(LEVEL_KEYS.map((k) => [k, { type: 'integer', minimum: k === 'embeddingOrder' ? 1 : 0, maximum: 64 }])),
            },
          ],
        },
      },
      weights: { type: 'object', additionalProperties: false, properties: { E: { type: 'number', minimum: 0 }, F: { type: 'number', minimum: 0 }, V: { type: 'number', minimum: 0 }, FC: { type: 'number', minimum: 0 } } },
      lambda: { type: 'number', minimum: 0 },
      priorPower: { type: 'number', minimum: 0 },
      solver: { enum: [...SOLVER_NAMES] },
      tol: { type: 'number', exclusiveMinimum: 0, maximum: 1e-3 },
      timeLimitSeconds: { type: 'number', exclusiveMinimum: 0 },
      tolerance: { type: 'number', exclusiveMinimum: 0 },
    },
  },
  defaults(mode: StudyMode) {
    const base = { potential: 'eam-2d', defect: 'vacancy', rDom: 10, observations: 'E+F+V', rattled: 4, seed: 1, solver: 'auto', tol: 1e-10 };
    if (mode === 'quick') return { ...base, refSize: 12, levels: [2, 3, 4] };
    if (mode === 'thorough') return { ...base, refSize: 24, levels: [1, 2, 3, 4, 5] };
    return { ...base, refSize: 16, levels: [1, 2, 3, 4, 5] };
  },
  async run(options, ctx: StudyContext) {
    return runOnPotential(options as StudyPotentialOptions, async (s) => [await fitAccuracyStudy({ ...(options as unknown as FitAccuracyStudyOptions), ...s, progress: ctx.progress })]);
  },
};
