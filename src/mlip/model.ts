import type { NeighbourList } from '../lattice/neighbours.ts';
import type { Structure } from '../lattice/structure.ts';
import type { EvalResult, SitePotential } from '../potentials/types.ts';
import { ParameterError } from '../util/errors.ts';
import { NeumaierSum } from '../util/sum.ts';
import { buildBasis, validateSpec, type Basis, type BasisSpec } from './basis.ts';
import { compileFunctions, MLIPKernel, type CompiledFunctions, type KernelOutputs } from './kernel.ts';

/**
 * Evaluates every basis function of a spec at once: per-function energies, site energies, forces, virials and
 * Hessian-vector products. These are the columns of the design matrix; the model's own evaluation runs the same kernel
 * on the merged polynomial sum_k c_k B_k.
 */
export class BasisEvaluator {
  readonly basis: Basis;
  readonly kernel: MLIPKernel;
  readonly functions: CompiledFunctions;
  constructor(spec: BasisSpec) {
    this.basis = buildBasis(spec);
    this.kernel = new MLIPKernel(this.basis);
    this.functions = compileFunctions(this.basis.functions);
  }
  get size(): number {
    return this.functions.K;
  }
  get cutoff(): number {
    return this.basis.spec.cutoff;
  }
  /** Accumulates into the (zeroed, function-major) outputs. */
  evaluate(s: Structure, nl: NeighbourList, out: KernelOutputs): void {
    this.kernel.evaluate(s, nl, this.functions, out);
  }
  /** out (K * N * dim, zeroed) += H_k v for every basis function k. */
  hessianVector(s: Structure, nl: NeighbourList, v: Float64Array, out: Float64Array): void {
    this.kernel.hessianVector(s, nl, this.functions, v, out);
  }
  /** Smoothness-prior degree of each basis function (see BasisFunctionDef.degree). */
  degrees(): Float64Array {
    return Float64Array.from(this.basis.functions.map((f) => f.degree));
  }
  labels(): string[] {
    return this.basis.functions.map((f) => f.label);
  }
}

export const MODEL_FORMAT = 'mlip-verify.linear-mlip';
export const MODEL_VERSION = 1;

/** The JSON form of a model: basis specification, coefficients (in basis order) and provenance. */
export interface LinearMLIPJSON {
  format: typeof MODEL_FORMAT;
  version: number;
  name: string;
  spec: BasisSpec;
  /** Numbers; -0 is written as the string "-0" (JSON.stringify would lose its sign). */
  coefficients: Array<number | string>;
  /** Basis function labels, informational (checked on load against the spec). */
  labels: string[];
  provenance: Record<string, unknown>;
}

/**
 * The linear MLIP V^H = sum_k c_k B_k: a SitePotential (energy, site energies, forces, virial, Hessian-vector product)
 * that relaxes and differentiates like the reference models. Immutable; a refit produces a new model.
 */
export class LinearMLIP implements SitePotential {
  readonly cutoff: number;
  readonly basis: Basis;
  readonly coefficients: Float64Array;
  private readonly kernel: MLIPKernel;
  /** sum_k c_k B_k as one compiled polynomial (what the kernel evaluates; read by the reference-kernel tests). */
  readonly merged: CompiledFunctions;
  private evaluator: BasisEvaluator | null = null;

  constructor(
    readonly spec: BasisSpec,
    coefficients: ArrayLike<number>,
    readonly name = 'linear-mlip',
    readonly provenance: Record<string, unknown> = {},
  ) {
    validateSpec(spec);
    this.basis = buildBasis(spec);
    if (coefficients.length !== this.basis.functions.length) {
      throw new ParameterError(
        `model has ${coefficients.length} coefficients but the basis has ${this.basis.functions.length} functions`,
      );
    }
    this.coefficients = Float64Array.from(coefficients);
    for (let k = 0; k < this.coefficients.length; k++) {
      if (!Number.isFinite(this.coefficients[k])) throw new ParameterError(`coefficient ${k} is not finite (${this.coefficients[k]})`);
    }
    this.cutoff = spec.cutoff;
    this.kernel = new MLIPKernel(this.basis);
    // Merge sum_k c_k B_k into one polynomial, combining equal monomials, so a model evaluation costs O(#A) per pair
    // however large the basis.
    const terms = new Map<string, { coef: number; factors: number[] }>();
    this.basis.functions.forEach((f, k) => {
      const c = this.coefficients[k];
      if (c === 0) return;
      for (const t of f.terms) {
        const key = t.factors.join(',');
        const prev = terms.get(key);
        if (prev) prev.coef += c * t.coef;
        else terms.set(key, { coef: c * t.coef, factors: t.factors.slice() });
      }
    });
    this.merged = compileFunctions([{ terms: [...terms.values()] }]);
  }

  /** Per-basis-function evaluation (design-matrix columns) for this model's basis. */
  basisEvaluator(): BasisEvaluator {
    if (!this.evaluator) this.evaluator = new BasisEvaluator(this.spec);
    return this.evaluator;
  }

  describe(): Record<string, unknown> {
    return { kind: 'linear-mlip', name: this.name, cutoff: this.cutoff, basisSize: this.coefficients.length, spec: this.spec };
  }

  evaluate(s: Structure, nl: NeighbourList): EvalResult {
    const n = nl.n;
    const dim = s.dim;
    const siteEnergies = new Float64Array(n);
    const forces = new Float64Array(n * dim);
    const virial = new Float64Array(dim * dim);
    this.kernel.evaluate(s, nl, this.merged, { siteEnergies, forces, virial });
    const acc = new NeumaierSum();
    for (let i = 0; i < n; i++) acc.add(siteEnergies[i]);
    return { energy: acc.value, siteEnergies, forces, virial };
  }

  hessianVector(s: Structure, nl: NeighbourList, v: Float64Array): Float64Array {
    const out = new Float64Array(v.length);
    this.kernel.hessianVector(s, nl, this.merged, v, out);
    return out;
  }

  toJSON(): LinearMLIPJSON {
    return {
      format: MODEL_FORMAT,
      version: MODEL_VERSION,
      name: this.name,
      spec: this.spec,
      coefficients: Array.from(this.coefficients, (c) => (Object.is(c, -0) ? '-0' : c)),
      labels: this.basis.functions.map((f) => f.label),
      provenance: this.provenance,
    };
  }

  static fromJSON(j: unknown): LinearMLIP {
    const o = j as Partial<LinearMLIPJSON>;
    if (!o || typeof o !== 'object' || o.format !== MODEL_FORMAT) {
      throw new ParameterError(`not a linear MLIP model (format must be '${MODEL_FORMAT}')`);
    }
    if (o.version !== MODEL_VERSION) throw new ParameterError(`unsupported model version ${String(o.version)}`);
    if (!o.spec || !Array.isArray(o.coefficients)) throw new ParameterError('model JSON needs spec and coefficients');
    const coef = o.coefficients.map((c, k) => {
      if (c === '-0') return -0;
      if (typeof c !== 'number') throw new ParameterError(`coefficient ${k} is not a number`);
      return c;
    });
    const m = new LinearMLIP(o.spec, coef, o.name ?? 'linear-mlip', o.provenance ?? {});
    if (o.labels && o.labels.join('|') !== m.basis.functions.map((f) => f.label).join('|')) {
      throw new ParameterError('model labels do not match the basis built from its spec (written by another version?)');
    }
    return m;
  }
}

export function serialiseModel(m: LinearMLIP): string {
  return JSON.stringify(m.toJSON(), null, 1);
}
export function parseModel(text: string): LinearMLIP {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch (e) {
    throw new ParameterError(`model file is not valid JSON: ${(e as Error).message}`);
  }
  return LinearMLIP.fromJSON(j);
}
