import { buildNeighbourList } from '../lattice/neighbours.ts';
import { assertCellFitsCutoff, atomCount, inverse, type Structure } from '../lattice/structure.ts';
import type { BasisEvaluator } from '../mlip/model.ts';
import { ParameterError } from '../util/errors.ts';
import type { KindWeights, ObservationKind, TrainingConfig } from './types.ts';

/**
 * How per-row weights depend on the size of a configuration.
 * - 'per-config' (default): each configuration contributes the mean squared error of each kind (forces divided by
 *   sqrt(N dim), energies and virials per atom), so the balance between configurations, and hence the fit compromise,
 *   does not drift with the training-cell size R_dom (THEORY.md 5 (d)).
 * - 'per-row': every force component counts once (energies and virials still per atom): large cells dominate.
 */
export type WeightNormalisation = 'per-config' | 'per-row';

export const DEFAULT_KIND_WEIGHTS: Readonly<Record<ObservationKind, number>> = { E: 1, F: 1, V: 1, FC: 1 };
export const ROW_KIND_CODE: Readonly<Record<ObservationKind, number>> = { E: 0, F: 1, V: 2, FC: 3 };

/** The rows one configuration contributes: column-major design with the targets as column K, and row weights. */
export interface ConfigRows {
  readonly rows: number;
  readonly K: number;
  /** (K+1) columns of `rows` entries each; column K holds the observations y. Unweighted. */
  readonly block: Float64Array;
  readonly weights: Float64Array;
  /** ROW_KIND_CODE of each row. */
  readonly kind: Uint8Array;
}

/** Upper-triangle (a <= b) virial components, in row order: the symmetric virial's independent entries. */
export function virialComponents(dim: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let a = 0; a < dim; a++) for (let b = a; b < dim; b++) out.push([a, b]);
  return out;
}

/**
 * Atoms whose force-constant rows enter the fit: those within 2 * cutoff (minimum image) of the FC atom, where the
 * MLIP's Hessian can be non-zero, plus any atom where the reference column is non-zero. The count depends on the
 * lattice only, not on the size of the cell that holds it.
 */
export function forceConstantRows(s: Structure, atom: number, cutoff: number, columns: readonly Float64Array[]): number[] {
  const dim = s.dim;
  const n = atomCount(s);
  const x = s.positions;
  const inv = s.cell ? inverse(s.cell, dim) : null;
  const lim = 2 * cutoff * (1 + 1e-12);
  const out: number[] = [];
  const dv = new Float64Array(dim);
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < dim; a++) dv[a] = x[i * dim + a] - x[atom * dim + a];
    if (inv && s.cell) {
      for (let k = 0; k < dim; k++) {
        let f = 0;
        for (let a = 0; a < dim; a++) f += dv[a] * inv[a * dim + k];
        const m = Math.round(f);
        if (m !== 0) for (let a = 0; a < dim; a++) dv[a] -= m * s.cell[k * dim + a];
      }
    }
    let r2 = 0;
    for (let a = 0; a < dim; a++) r2 += dv[a] * dv[a];
    let keep = r2 < lim * lim;
    if (!keep) {
      for (const col of columns) for (let a = 0; a < dim && !keep; a++) if (col[i * dim + a] !== 0) keep = true;
    }
    if (keep) out.push(i);
  }
  return out;
}

/**
 * Design rows of one configuration for the requested kinds (kinds without data in this configuration are skipped).
 * Rows: E (1), F (N dim), V (upper triangle), FC (dim columns x selected atoms x dim). Every entry comes from the
 * BasisEvaluator, i.e. the same kernel as the fitted model's own energy, forces, virial and Hessian.
 */
export function configRows(
  ev: BasisEvaluator,
  cfg: TrainingConfig,
  kinds: readonly ObservationKind[],
  weights: KindWeights = {},
  normalisation: WeightNormalisation = 'per-config',
): ConfigRows {
  const s = cfg.structure;
  const dim = s.dim;
  const n = atomCount(s);
  const K = ev.size;
  const w = { ...DEFAULT_KIND_WEIGHTS, ...weights };
  // The configuration weight is a multiplicity: it multiplies the configuration's squared residuals, so duplicating a
  // configuration is exactly the same fit as doubling its weight. Row weights are therefore sqrt(weight) * w_kind.
  if (!(cfg.weight >= 0) || !Number.isFinite(cfg.weight)) {
    throw new ParameterError(`configuration weight must be finite and >= 0, got ${cfg.weight}`);
  }
  const wc = Math.sqrt(cfg.weight);
  const useE = kinds.includes('E') && cfg.energy !== undefined;
  const useF = kinds.includes('F') && cfg.forces !== undefined;
  const useV = kinds.includes('V') && cfg.virial !== undefined && s.cell !== null;
  const useFC = kinds.includes('FC') && cfg.forceConstants !== undefined;
  const vc = virialComponents(dim);
  let fcAtoms: number[] = [];
  if (useFC) fcAtoms = forceConstantRows(s, cfg.forceConstants!.atom, ev.cutoff, cfg.forceConstants!.columns);
  const rows = (useE ? 1 : 0) + (useF ? n * dim : 0) + (useV ? vc.length : 0) + (useFC ? dim * fcAtoms.length * dim : 0);
  const block = new Float64Array((K + 1) * rows);
  const rw = new Float64Array(rows);
  const kind = new Uint8Array(rows);
  if (rows === 0) return { rows, K, block, weights: rw, kind };
  assertCellFitsCutoff(s, ev.cutoff);
  const nl = buildNeighbourList(s, ev.cutoff);
  const energy = useE ? new Float64Array(K) : undefined;
  const forces = useF ? new Float64Array(K * n * dim) : undefined;
  const virial = useV ? new Float64Array(K * dim * dim) : undefined;
  if (useE || useF || useV) ev.evaluate(s, nl, { energy, forces, virial });
  let r0 = 0;
  const yc = K * rows;
  if (useE) {
    for (let k = 0; k < K; k++) block[k * rows] = energy![k];
    block[yc] = cfg.energy!;
    rw[0] = (wc * w.E) / n;
    kind[0] = ROW_KIND_CODE.E;
    r0 = 1;
  }
  if (useF) {
    const nf = n * dim;
    for (let k = 0; k < K; k++) block.set(forces!.subarray(k * nf, (k + 1) * nf), k * rows + r0);
    block.set(cfg.forces!, yc + r0);
    const mask = cfg.forceMask;
    if (mask && mask.length !== n) throw new ParameterError(`forceMask has ${mask.length} entries for ${n} atoms`);
    // Masked atoms keep their rows with weight 0 (they add nothing to the QR); per-config normalisation counts only
    // the fitted components, so a mask does not change the weight of the configuration as a whole.
    const fitted = mask ? mask.reduce((a, m) => a + (m ? 1 : 0), 0) * dim : nf;
    const wf = normalisation === 'per-config' ? (wc * w.F) / Math.sqrt(Math.max(fitted, 1)) : wc * w.F;
    rw.fill(wf, r0, r0 + nf);
    if (mask) for (let i = 0; i < n; i++) if (!mask[i]) rw.fill(0, r0 + i * dim, r0 + (i + 1) * dim);
    kind.fill(ROW_KIND_CODE.F, r0, r0 + nf);
    r0 += nf;
  }
  if (useV) {
    vc.forEach(([a, b], q) => {
      for (let k = 0; k < K; k++) block[k * rows + r0 + q] = virial![k * dim * dim + a * dim + b];
      block[yc + r0 + q] = cfg.virial![a * dim + b];
    });
    rw.fill((wc * w.V) / n, r0, r0 + vc.length);
    kind.fill(ROW_KIND_CODE.V, r0, r0 + vc.length);
    r0 += vc.length;
  }
  if (useFC) {
    const fc = cfg.forceConstants!;
    const nf = n * dim;
    const hv = new Float64Array(K * nf);
    const v = new Float64Array(nf);
    const nrow = dim * fcAtoms.length * dim;
    const wfc = normalisation === 'per-config' ? (wc * w.FC) / Math.sqrt(nrow) : wc * w.FC;
    for (let b = 0; b < dim; b++) {
      v.fill(0);
      v[fc.atom * dim + b] = 1;
      hv.fill(0);
      ev.hessianVector(s, nl, v, hv);
      const col = fc.columns[b];
      for (const i of fcAtoms) {
        for (let a = 0; a < dim; a++) {
          for (let k = 0; k < K; k++) block[k * rows + r0] = hv[k * nf + i * dim + a];
          block[yc + r0] = col[i * dim + a];
          rw[r0] = wfc;
          kind[r0] = ROW_KIND_CODE.FC;
          r0++;
        }
      }
    }
  }
  return { rows, K, block, weights: rw, kind };
}

/** Multiplies every row (all K+1 columns) by its weight, in place. */
export function applyRowWeights(r: ConfigRows): void {
  const { rows, K, block, weights } = r;
  for (let c = 0; c <= K; c++) {
    const o = c * rows;
    for (let i = 0; i < rows; i++) block[o + i] *= weights[i];
  }
}
