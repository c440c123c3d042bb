/**
 * Harmonic polynomials: the angular part of the atom-base functions phi(r) = g(|r|) H(r).
 *
 * H_{l,m} are homogeneous polynomials of degree l in the Cartesian components of the bond vector, normalised so that
 * the power spectrum is a Legendre / Fourier mode of the bond angle (addition theorem):
 *   2D:  H = Re (x + i y)^l, Im (x + i y)^l          sum_m H_lm(e) H_lm(e') = cos(l (theta - theta'))
 *   3D:  real regular solid harmonics, scaled          sum_m H_lm(e) H_lm(e') = P_l(e . e')
 * for unit vectors e, e'. Because H is a polynomial (not a function of the angle), its gradient and Hessian are exact
 * and cheap, and the same kernel serves 2D and 3D. Rotation invariance of the power spectrum is checked by the
 * generated tests (a normalisation error would break it).
 */
export interface HarmonicSet {
  readonly dim: 2 | 3;
  readonly maxDegree: number;
  /** Degree l of harmonic h. */
  readonly degree: Int32Array;
  /** Monomials of harmonic h are termStart[h] .. termStart[h+1]. */
  readonly termStart: Int32Array;
  readonly coef: Float64Array;
  /** Exponents, dim per monomial. */
  readonly exps: Int32Array;
}

type Poly = Map<string, number>;

function key(e: number[]): string {
  return e.join(',');
}
function mul(a: Poly, b: Poly, dim: number): Poly {
  const out: Poly = new Map();
  for (const [ka, ca] of a) {
    const ea = ka.split(',').map(Number);
    for (const [kb, cb] of b) {
      const eb = kb.split(',').map(Number);
      const e = ea.map((v, i) => v + eb[i]);
      const k = key(e.slice(0, dim));
      out.set(k, (out.get(k) ?? 0) + ca * cb);
    }
  }
  return out;
}
function binom(n: number, k: number): number {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return r;
}
function fact(n: number): number {
  let r = 1;
  for (let i = 2; i <= n; i++) r *= i;
  return r;
}

/** Re and Im of (x + i y)^m as polynomials in (x, y[, z]). */
function complexPower(m: number, dim: number): [Poly, Poly] {
  const re: Poly = new Map();
  const im: Poly = new Map();
  for (let k = 0; k <= m; k++) {
    const c = binom(m, k);
    const e = dim === 2 ? [m - k, k] : [m - k, k, 0];
    // i^k: k mod 4 = 0 -> 1, 1 -> i, 2 -> -1, 3 -> -i
    const q = k % 4;
    if (q === 0) re.set(key(e), c);
    else if (q === 2) re.set(key(e), -c);
    else if (q === 1) im.set(key(e), c);
    else im.set(key(e), -c);
  }
  return [re, im];
}

export function harmonicSet(dim: 2 | 3, maxDegree: number): HarmonicSet {
  const polys: Poly[] = [];
  const degs: number[] = [];
  for (let l = 1; l <= maxDegree; l++) {
    if (dim === 2) {
      const [re, im] = complexPower(l, 2);
      polys.push(re, im);
      degs.push(l, l);
      continue;
    }
    // r^2 as a polynomial, and its powers.
    const r2: Poly = new Map([
      ['2,0,0', 1],
      ['0,2,0', 1],
      ['0,0,2', 1],
    ]);
    for (let m = 0; m <= l; m++) {
      // Pi_l^m(z, r) = 2^-l sum_k (-1)^k C(l,k) C(2l-2k, l) (l-2k)!/(l-2k-m)! r^{2k} z^{l-2k-m}
      let pi: Poly = new Map();
      let r2k: Poly = new Map([['0,0,0', 1]]);
      for (let k = 0; 2 * k <= l - m; k++) {
        const c = ((k % 2 ? -1 : 1) * binom(l, k) * binom(2 * l - 2 * k, l) * fact(l - 2 * k)) / fact(l - 2 * k - m) / 2 ** l;
        const zp: Poly = new Map([[`0,0,${l - 2 * k - m}`, c]]);
        const t = mul(r2k, zp, 3);
        for (const [kk, v] of t) pi.set(kk, (pi.get(kk) ?? 0) + v);
        r2k = mul(r2k, r2, 3);
      }
      const [re, im] = complexPower(m, 3);
      if (m === 0) {
        polys.push(pi);
        degs.push(l);
      } else {
        const s = Math.sqrt((2 * fact(l - m)) / fact(l + m));
        const scale = (p: Poly): Poly => new Map([...p].map(([k2, v]) => [k2, v * s]));
        polys.push(scale(mul(pi, re, 3)), scale(mul(pi, im, 3)));
        degs.push(l, l);
      }
      pi = new Map();
    }
  }
  const termStart = new Int32Array(polys.length + 1);
  const coef: number[] = [];
  const exps: number[] = [];
  polys.forEach((p, h) => {
    for (const [k, v] of [...p].sort()) {
      if (v === 0) continue;
      coef.push(v);
      exps.push(...k.split(',').map(Number));
    }
    termStart[h + 1] = coef.length;
  });
  return { dim, maxDegree, degree: Int32Array.from(degs), termStart, coef: Float64Array.from(coef), exps: Int32Array.from(exps) };
}
