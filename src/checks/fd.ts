/**
 * Central differences with Richardson extrapolation. D(h) = (f(h) - f(-h)) / 2h has the error expansion
 * c2 h^2 + c4 h^4 + ... for a smooth f, so the tableau over h, h/2, h/4, ... removes one even power per column:
 * three levels give O(h^6) truncation while the smallest step stays large enough (h/4) that round-off,
 * ~eps |f| / h, does not dominate. Works on vector-valued f (all components share the steps).
 */
export function richardson(f: (t: number) => ArrayLike<number>, h: number, levels = 3): Float64Array {
  let prev: Float64Array[] = [];
  let out: Float64Array = new Float64Array(0);
  for (let k = 0; k < levels; k++) {
    const hk = h / 2 ** k;
    const fp = f(hk);
    const fm = f(-hk);
    const row: Float64Array[] = [new Float64Array(fp.length)];
    for (let i = 0; i < fp.length; i++) row[0][i] = (fp[i] - fm[i]) / (2 * hk);
    for (let m = 1; m <= k; m++) {
      const c = 4 ** m - 1;
      const r = new Float64Array(fp.length);
      for (let i = 0; i < fp.length; i++) r[i] = row[m - 1][i] + (row[m - 1][i] - prev[m - 1][i]) / c;
      row.push(r);
    }
    prev = row;
    out = row[k];
  }
  return out;
}

/** Scalar convenience wrapper. */
export function richardsonScalar(f: (t: number) => number, h: number, levels = 3): number {
  return richardson((t) => [f(t)], h, levels)[0];
}
