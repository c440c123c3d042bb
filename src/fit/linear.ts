import { buildNeighbourList } from '../lattice/neighbours.ts';
import { atomCount } from '../lattice/structure.ts';
import { defaultBasisSpec, envelopeFromDescription, MAX_DEFAULT_LEVEL, type BasisSpec } from '../mlip/basis.ts';
import { BasisEvaluator, LinearMLIP } from '../mlip/model.ts';
import type { SitePotential } from '../potentials/types.ts';
import { FitError, ParameterError, requireParam } from '../util/errors.ts';
import { applyRowWeights, configRows, forceConstantRows, virialComponents, type WeightNormalisation } from './design.ts';
import { IncrementalQR, solveTriangle } from './lsq.ts';
import type { KindWeights, ObservationKind, TrainedModel, Trainer, TrainingSet } from './types.ts';

export interface LinearFitOptions {
  /** Basis specification, or a default level (1..4) whose cutoff/envelope are taken from the training set. */
  basis?: BasisSpec | { level: number };
  /** Per-kind weights (default 1 each). */
  weights?: KindWeights;
  normalisation?: WeightNormalisation;
  /**
   * Strength of the smoothness prior lambda |Gamma c|^2 with Gamma_kk = (1 + deg_k)^priorPower * ||B_k||_w: relative to
   * the weighted column norms, so lambda is dimensionless and invariant under rescaling all weights. Default 1e-10:
   * negligible where the data pin a coefficient, decisive for directions the data leave free (unstable extrapolation).
   */
  lambda?: number;
  /** Exponent of the degree in Gamma (default 2). */
  priorPower?: number;
  /** Relative singular-value threshold for the rank (default 1e-12). */
  rcond?: number;
  /** Refuse (FitError) instead of returning the labelled minimum-norm solution when the data are rank deficient. */
  requireUnique?: boolean;
  name?: string;
}

export interface KindError {
  /** Root mean square error (E and V per atom). */
  rmse: number;
  maxError: number;
  /** RMS of the observed values (same units): the scale to compare the RMSE with. */
  scale: number;
  count: number;
}

export interface LinearFitReport {
  trainer: 'linear-lsq';
  basisSize: number;
  rows: number;
  configurations: number;
  observations: ObservationKind[];
  /** Rank and condition number of the column-scaled weighted data matrix (before the prior). */
  rank: number;
  condition: number;
  rankDeficient: boolean;
  /** 'qr' (unique, back substitution) or 'svd-minimum-norm' (rank deficient: minimum norm in scaled coordinates). */
  solution: 'qr' | 'svd-minimum-norm';
  /** Condition number of the system actually solved (with the prior when lambda > 0). */
  conditionSolved: number;
  lambda: number;
  priorPower: number;
  normalisation: WeightNormalisation;
  weights: KindWeights;
  /** Weighted residual norm of the data-only least-squares problem. */
  weightedResidual: number;
  errors: Partial<Record<ObservationKind, KindError>>;
  zeroColumns: string[];
  seconds: { assemble: number; solve: number; errors: number };
}

function resolveSpec(set: TrainingSet, b: LinearFitOptions['basis']): BasisSpec {
  if (b && 'dim' in b) return b;
  const level = b && 'level' in b ? b.level : MAX_DEFAULT_LEVEL;
  const dim = set.configs[0]?.structure.dim;
  if (dim !== 2 && dim !== 3) throw new ParameterError('training set is empty');
  const ref = set.meta.reference as Record<string, unknown> | undefined;
  const env = ref ? envelopeFromDescription(ref) : undefined;
  const cutoff = env?.cutoff ?? (typeof set.meta.cutoff === 'number' ? set.meta.cutoff : undefined);
  if (cutoff === undefined) throw new ParameterError('no basis cutoff: pass a BasisSpec (the training set records no reference cutoff)');
  const rin = env?.rin ?? (typeof set.meta.rin === 'number' ? set.meta.rin : undefined);
  return defaultBasisSpec(level, { dim, cutoff, rin });
}

/**
 * Weighted, regularised linear least squares  min sum_o w_o^2 |B_o c - y_o|^2 + lambda |Gamma c|^2  over the
 * configurations of a training set, streamed configuration by configuration into an incremental QR.
 */
export function fitLinear(set: TrainingSet, opts: LinearFitOptions = {}): { model: LinearMLIP; report: LinearFitReport } {
  if (set.configs.length === 0) throw new FitError('training set has no configurations');
  const spec = resolveSpec(set, opts.basis);
  const lambda = opts.lambda ?? 1e-10;
  const priorPower = opts.priorPower ?? 2;
  requireParam('lambda', lambda, (v) => v >= 0, '>= 0');
  requireParam('priorPower', priorPower, (v) => v >= 0, '>= 0');
  const normalisation = opts.normalisation ?? 'per-config';
  const weights = opts.weights ?? {};
  const kinds = set.observations;
  const ev = new BasisEvaluator(spec);
  const K = ev.size;
  const t0 = performance.now();
  const qr = new IncrementalQR(K);
  for (const cfg of set.configs) {
    const rows = configRows(ev, cfg, kinds, weights, normalisation);
    if (rows.rows === 0) continue;
    applyRowWeights(rows);
    qr.addBlock(rows.block, rows.rows);
  }
  if (qr.rows === 0) throw new FitError(`no observation rows: the configurations carry none of ${kinds.join('+')}`);
  const t1 = performance.now();
  const data = solveTriangle(qr, { rcond: opts.rcond, requireUnique: opts.requireUnique && lambda === 0 });
  let solved = data;
  if (lambda > 0) {
    const deg = ev.degrees();
    const diag = new Float64Array(K);
    for (let k = 0; k < K; k++) diag[k] = Math.sqrt(lambda) * (1 + deg[k]) ** priorPower * (data.columnNorms[k] || 1);
    const qp = qr.clone();
    qp.addDiagonalPrior(diag);
    solved = solveTriangle(qp, { rcond: opts.rcond, requireUnique: opts.requireUnique });
  } else if (opts.requireUnique && data.rank < K) {
    throw new FitError(`rank deficient fit (rank ${data.rank} of ${K})`, { rank: data.rank });
  }
  const t2 = performance.now();
  const model = new LinearMLIP(spec, solved.coefficients, opts.name ?? 'linear-mlip', {
    trainer: 'linear-lsq',
    trainingSet: set.meta,
    observations: kinds,
    lambda,
    priorPower,
    normalisation,
    weights,
    rank: data.rank,
    condition: data.condition,
    solution: solved.method,
  });
  const errors = trainingErrors(model, set);
  const t3 = performance.now();
  const labels = ev.labels();
  return {
    model,
    report: {
      trainer: 'linear-lsq',
      basisSize: K,
      rows: qr.rows,
      configurations: set.configs.length,
      observations: [...kinds],
      rank: data.rank,
      condition: data.condition,
      rankDeficient: data.rank < K,
      solution: solved.method,
      conditionSolved: solved.condition,
      lambda,
      priorPower,
      normalisation,
      weights,
      weightedResidual: qr.residualNorm(),
      errors,
      zeroColumns: data.zeroColumns.map((k) => labels[k]),
      seconds: { assemble: (t1 - t0) / 1e3, solve: (t2 - t1) / 1e3, errors: (t3 - t2) / 1e3 },
    },
  };
}

class Acc {
  s2 = 0;
  y2 = 0;
  max = 0;
  n = 0;
  add(pred: number, obs: number): void {
    const e = pred - obs;
    this.s2 += e * e;
    this.y2 += obs * obs;
    this.max = Math.max(this.max, Math.abs(e));
    this.n++;
  }
  result(): KindError {
    return { rmse: Math.sqrt(this.s2 / this.n), maxError: this.max, scale: Math.sqrt(this.y2 / this.n), count: this.n };
  }
}

/**
 * Unweighted training errors of a potential on the kinds of a training set, from the potential's own evaluate and
 * hessianVector (not from the design matrix): E per atom, F per component, V per atom (independent components), FC
 * entries on the fitted rows.
 */
export function trainingErrors(pot: SitePotential, set: TrainingSet): Partial<Record<ObservationKind, KindError>> {
  const kinds = set.observations;
  const acc: Partial<Record<ObservationKind, Acc>> = {};
  for (const k of kinds) acc[k] = new Acc();
  for (const cfg of set.configs) {
    const s = cfg.structure;
    const n = atomCount(s);
    const dim = s.dim;
    const nl = buildNeighbourList(s, pot.cutoff);
    const needEval =
      (kinds.includes('E') && cfg.energy !== undefined) ||
      (kinds.includes('F') && cfg.forces !== undefined) ||
      (kinds.includes('V') && cfg.virial !== undefined);
    if (needEval) {
      const r = pot.evaluate(s, nl);
      if (acc.E && cfg.energy !== undefined) acc.E.add(r.energy / n, cfg.energy / n);
      if (acc.F && cfg.forces) {
        for (let i = 0; i < r.forces.length; i++) if (!cfg.forceMask || cfg.forceMask[Math.floor(i / dim)]) acc.F.add(r.forces[i], cfg.forces[i]);
      }
      if (acc.V && cfg.virial && s.cell) {
        for (const [a, b] of virialComponents(dim)) acc.V.add(r.virial[a * dim + b] / n, cfg.virial[a * dim + b] / n);
      }
    }
    if (acc.FC && cfg.forceConstants) {
      const fc = cfg.forceConstants;
      const atoms = forceConstantRows(s, fc.atom, pot.cutoff, fc.columns);
      const v = new Float64Array(n * dim);
      for (let b = 0; b < dim; b++) {
        v.fill(0);
        v[fc.atom * dim + b] = 1;
        const hv = pot.hessianVector(s, nl, v);
        for (const i of atoms) for (let a = 0; a < dim; a++) acc.FC.add(hv[i * dim + a], fc.columns[b][i * dim + a]);
      }
    }
  }
  const out: Partial<Record<ObservationKind, KindError>> = {};
  for (const k of kinds) if (acc[k] && acc[k]!.n > 0) out[k] = acc[k]!.result();
  return out;
}

/** The default trainer of the pipeline: the linear MLIP fitted by fitLinear. */
export class LinearTrainer implements Trainer {
  readonly name = 'linear-lsq';
  constructor(readonly options: LinearFitOptions = {}) {}
  async train(set: TrainingSet): Promise<TrainedModel> {
    const { model, report } = fitLinear(set, this.options);
    return { potential: model, report: report as unknown as Record<string, unknown> };
  }
}
