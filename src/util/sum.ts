/**
 * Compensated (Neumaier) summation. Formation energies are differences of two large, nearly equal totals; plain
 * float64 accumulation over 10^5 sites loses digits that the convergence rates need, compensated summation keeps
 * the error at O(eps) independent of N (checked against decimal.js in properties/).
 */
export class NeumaierSum {
  private s = 0;
  private c = 0;
  add(x: number): void {
    const t = this.s + x;
    if (Math.abs(this.s) >= Math.abs(x)) this.c += this.s - t + x;
    else this.c += x - t + this.s;
    this.s = t;
  }
  get value(): number {
    return this.s + this.c;
  }
}

/** Compensated sum of an array (optionally only where mask[i] is non-zero). */
export function neumaierSum(values: ArrayLike<number>, mask?: ArrayLike<number>): number {
  const acc = new NeumaierSum();
  for (let i = 0; i < values.length; i++) if (!mask || mask[i]) acc.add(values[i]);
  return acc.value;
}
