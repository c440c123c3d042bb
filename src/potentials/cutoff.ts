import { HP, type HPDecimal as Decimal } from '../util/decimal.ts';
import { requireParam } from '../util/errors.ts';

/**
 * Smooth cutoff fc(r): 1 for r <= rin, 0 for r >= rc, and the C^3 polynomial 1 - 35x^4 + 84x^5 - 70x^6 + 20x^7 in
 * x = (r - rin)/(rc - rin) between. C^3 makes energy, forces and force constants continuous as a neighbour crosses
 * the cutoff, which the Newton solver and the finite-difference checks of the Hessian need.
 */
export class SmoothCutoff {
  constructor(
    readonly rin: number,
    readonly rc: number,
  ) {
    requireParam('rc (cutoff)', rc, (v) => v > 0, '> 0');
    requireParam('rin (inner cutoff)', rin, (v) => v >= 0 && v < rc, `>= 0 and < rc = ${rc}`);
  }
  /** Writes fc, fc', fc'' into out[0..2]. */
  eval(r: number, out: Float64Array): void {
    if (r <= this.rin) {
      out[0] = 1;
      out[1] = 0;
      out[2] = 0;
      return;
    }
    if (r >= this.rc) {
      out[0] = 0;
      out[1] = 0;
      out[2] = 0;
      return;
    }
    const h = this.rc - this.rin;
    const x = (r - this.rin) / h;
    const x2 = x * x;
    const x3 = x2 * x;
    out[0] = 1 + x2 * x2 * (-35 + x * (84 + x * (-70 + 20 * x)));
    out[1] = (x3 * (-140 + x * (420 + x * (-420 + 140 * x)))) / h;
    out[2] = (x2 * (-420 + x * (1680 + x * (-2100 + 840 * x)))) / (h * h);
  }
  evalDecimal(r: Decimal): Decimal {
    if (r.lte(this.rin)) return new HP(1);
    if (r.gte(this.rc)) return new HP(0);
    const x = r.minus(this.rin).div(new HP(this.rc).minus(this.rin));
    const p = new HP(20).mul(x).plus(-70).mul(x).plus(84).mul(x).plus(-35);
    return x.pow(4).mul(p).plus(1);
  }
}
