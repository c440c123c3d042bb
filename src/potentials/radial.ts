import { HP, type HPDecimal as Decimal } from '../util/decimal.ts';
import { GeometryError, requireParam } from '../util/errors.ts';
import { SmoothCutoff } from './cutoff.ts';

/** A radial function of the pair distance (pair potential phi or density psi), zero beyond its cutoff. */
export interface RadialFunction {
  readonly cutoff: number;
  /** Writes f(r), f'(r), f''(r) into out[0..2]. */
  eval(r: number, out: Float64Array): void;
  /** f(r) in high precision (for the decimal.js reference sums); optional for tabulated functions. */
  evalDecimal?(r: Decimal): Decimal;
  describe(): Record<string, unknown>;
}

/** An embedding function F(rho) of the EAM density. */
export interface EmbeddingFunction {
  /** Writes F, F', F'' into out[0..2]; throws a GeometryError naming the site when rho is outside F's domain. */
  eval(rho: number, out: Float64Array, site: number): void;
  evalDecimal?(rho: Decimal): Decimal;
  describe(): Record<string, unknown>;
}

const tmp = new Float64Array(3);

/** f(r) * fc(r) with the product rule applied to the derivatives. */
abstract class CutoffRadial implements RadialFunction {
  readonly fc: SmoothCutoff;
  constructor(rin: number, rc: number) {
    this.fc = new SmoothCutoff(rin, rc);
  }
  get cutoff(): number {
    return this.fc.rc;
  }
  protected abstract raw(r: number, out: Float64Array): void;
  protected abstract rawDecimal(r: Decimal): Decimal;
  abstract describe(): Record<string, unknown>;
  eval(r: number, out: Float64Array): void {
    if (r >= this.fc.rc) {
      out[0] = 0;
      out[1] = 0;
      out[2] = 0;
      return;
    }
    this.raw(r, out);
    const f = out[0];
    const f1 = out[1];
    const f2 = out[2];
    this.fc.eval(r, tmp);
    out[0] = f * tmp[0];
    out[1] = f1 * tmp[0] + f * tmp[1];
    out[2] = f2 * tmp[0] + 2 * f1 * tmp[1] + f * tmp[2];
  }
  evalDecimal(r: Decimal): Decimal {
    if (r.gte(this.fc.rc)) return new HP(0);
    return this.rawDecimal(r).mul(this.fc.evalDecimal(r));
  }
}

/** Morse pair potential D (exp(-2 a (r - r0)) - 2 exp(-a (r - r0))) times the smooth cutoff. */
export class MorseRadial extends CutoffRadial {
  constructor(
    readonly D: number,
    readonly alpha: number,
    readonly r0: number,
    rin: number,
    rc: number,
  ) {
    super(rin, rc);
    requireParam('D (Morse well depth)', D, (v) => v > 0, '> 0');
    requireParam('alpha (Morse stiffness)', alpha, (v) => v > 0, '> 0');
    requireParam('r0 (Morse minimum)', r0, (v) => v > 0, '> 0');
  }
  protected raw(r: number, out: Float64Array): void {
    const e = Math.exp(-this.alpha * (r - this.r0));
    const a = this.alpha;
    out[0] = this.D * (e * e - 2 * e);
    out[1] = this.D * (-2 * a * e * e + 2 * a * e);
    out[2] = this.D * (4 * a * a * e * e - 2 * a * a * e);
  }
  protected rawDecimal(r: Decimal): Decimal {
    const e = HP.exp(r.minus(this.r0).mul(-this.alpha));
    return e.mul(e).minus(e.mul(2)).mul(this.D);
  }
  describe() {
    return { kind: 'morse', D: this.D, alpha: this.alpha, r0: this.r0, rin: this.fc.rin, rc: this.fc.rc };
  }
}

/** Lennard-Jones 4 eps ((s/r)^12 - (s/r)^6) times the smooth cutoff. */
export class LennardJonesRadial extends CutoffRadial {
  constructor(
    readonly epsilon: number,
    readonly sigma: number,
    rin: number,
    rc: number,
  ) {
    super(rin, rc);
    requireParam('epsilon (LJ well depth)', epsilon, (v) => v > 0, '> 0');
    requireParam('sigma (LJ length)', sigma, (v) => v > 0, '> 0');
  }
  protected raw(r: number, out: Float64Array): void {
    const s6 = (this.sigma / r) ** 6;
    const s12 = s6 * s6;
    const e4 = 4 * this.epsilon;
    out[0] = e4 * (s12 - s6);
    out[1] = (e4 * (-12 * s12 + 6 * s6)) / r;
    out[2] = (e4 * (156 * s12 - 42 * s6)) / (r * r);
  }
  protected rawDecimal(r: Decimal): Decimal {
    const s6 = new HP(this.sigma).div(r).pow(6);
    return s6.mul(s6).minus(s6).mul(4 * this.epsilon);
  }
  describe() {
    return { kind: 'lennard-jones', epsilon: this.epsilon, sigma: this.sigma, rin: this.fc.rin, rc: this.fc.rc };
  }
}

/** EAM density exp(-beta (r - r0)) times the smooth cutoff. */
export class ExpDensity extends CutoffRadial {
  constructor(
    readonly beta: number,
    readonly r0: number,
    rin: number,
    rc: number,
  ) {
    super(rin, rc);
    requireParam('beta (density decay)', beta, (v) => v > 0, '> 0');
    requireParam('r0 (density reference distance)', r0, (v) => v > 0, '> 0');
  }
  protected raw(r: number, out: Float64Array): void {
    const e = Math.exp(-this.beta * (r - this.r0));
    out[0] = e;
    out[1] = -this.beta * e;
    out[2] = this.beta * this.beta * e;
  }
  protected rawDecimal(r: Decimal): Decimal {
    return HP.exp(r.minus(this.r0).mul(-this.beta));
  }
  describe() {
    return { kind: 'exp-density', beta: this.beta, r0: this.r0, rin: this.fc.rin, rc: this.fc.rc };
  }
}

/**
 * Quadratic embedding F(rho) = C rho (rho - 2 rho1): convex, F(0) = 0 (an isolated atom has zero energy), negative
 * slope below rho1 as in fitted EAM potentials, and defined for every rho, so no configuration leaves its domain.
 */
export class QuadraticEmbedding implements EmbeddingFunction {
  constructor(
    readonly C: number,
    readonly rho1: number,
  ) {
    requireParam('C (embedding curvature)', C, (v) => v > 0, '> 0');
    requireParam('rho1 (embedding minimum density)', rho1, (v) => v > 0, '> 0');
  }
  eval(rho: number, out: Float64Array): void {
    out[0] = this.C * rho * (rho - 2 * this.rho1);
    out[1] = 2 * this.C * (rho - this.rho1);
    out[2] = 2 * this.C;
  }
  evalDecimal(rho: Decimal): Decimal {
    return rho.mul(rho.minus(2 * this.rho1)).mul(this.C);
  }
  describe() {
    return { kind: 'quadratic-embedding', C: this.C, rho1: this.rho1 };
  }
}

/**
 * Finnis-Sinclair embedding F(rho) = -A sqrt(rho). Defined for rho > 0 only: a site with zero density (an isolated
 * atom) is outside its domain and is reported, never clipped.
 */
export class SqrtEmbedding implements EmbeddingFunction {
  constructor(readonly A: number) {
    requireParam('A (Finnis-Sinclair embedding strength)', A, (v) => v > 0, '> 0');
  }
  eval(rho: number, out: Float64Array, site: number): void {
    if (!(rho > 0)) {
      throw new GeometryError(
        `site ${site} has density ${rho}: the Finnis-Sinclair embedding -A sqrt(rho) needs rho > 0 (isolated atom?)`,
        { site, rho },
      );
    }
    const s = Math.sqrt(rho);
    out[0] = -this.A * s;
    out[1] = -this.A / (2 * s);
    out[2] = this.A / (4 * rho * s);
  }
  evalDecimal(rho: Decimal): Decimal {
    return rho.sqrt().mul(-this.A);
  }
  describe() {
    return { kind: 'sqrt-embedding', A: this.A };
  }
}
