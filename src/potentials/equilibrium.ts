import { periodicDomain } from '../lattice/domain.ts';
import { makeLattice, type Lattice, type LatticeName } from '../lattice/lattice.ts';
import { perpendicularWidths } from '../lattice/structure.ts';
import { ConvergenceError } from '../util/errors.ts';
import { evaluate } from './evaluate.ts';
import type { SitePotential } from './types.ts';

/** The stress-free perfect lattice of a potential. */
export interface PerfectLattice {
  readonly lattice: Lattice;
  /** Energy per site of the perfect lattice (cohesive energy, sign as the potential). */
  readonly e0: number;
  /** Largest |virial component| per atom left at the solution (should be ~1e-14). */
  readonly stressResidual: number;
  readonly iterations: number;
}

/**
 * Equilibrium nearest-neighbour distance: the root of the pressure tr(W(r0)) of the perfect periodic cell, by a
 * bracketed 1D solve (secant steps safeguarded by bisection). The lattices here have cubic or hexagonal symmetry,
 * so zero pressure means zero stress; the residual stress is returned so callers can check it. The search starts at
 * the potential's declared lengthScale (Cu from guess 1: 28 s of bracketing through huge cells; from 2.55: 0.9 s).
 */
export function equilibriumLattice(pot: SitePotential, name: LatticeName, guess = pot.lengthScale ?? 1): PerfectLattice {
  const probe = makeLattice(name, 1);
  // Fix the repetitions once (for the smallest r0 we may try) so the pressure is a smooth function of r0.
  const lo0 = 0.7 * guess;
  const reps = perpendicularWidths(probe.cell, probe.dim).map((w) => Math.max(1, Math.ceil((2 * pot.cutoff) / (w * lo0))));
  const pressure = (r0: number) => {
    const l = makeLattice(name, r0);
    const dom = periodicDomain(l, 'none', 1, pot.cutoff, reps);
    const res = evaluate(pot, dom.structure);
    let tr = 0;
    for (let a = 0; a < l.dim; a++) tr += res.virial[a * l.dim + a];
    return { tr, res, n: dom.keys.length };
  };
  // Bracket: tr(W) > 0 when compressed (energy falls as the lattice expands), < 0 when stretched.
  let a = guess;
  let b = guess;
  let fa = pressure(a).tr;
  let fb = fa;
  let it = 0;
  if (fa > 0) {
    while (fb > 0 && it++ < 60) {
      a = b;
      fa = fb;
      b *= 1.05;
      fb = pressure(b).tr;
    }
  } else {
    while (fa < 0 && it++ < 60) {
      b = a;
      fb = fa;
      a /= 1.05;
      if (a < lo0) break;
      fa = pressure(a).tr;
    }
  }
  if (!(fa > 0 && fb < 0)) {
    throw new ConvergenceError(`no stress-free ${name} lattice found for ${pot.name} near r0 = ${guess}`, {
      bracket: [a, b],
      pressure: [fa, fb],
    });
  }
  let x = b;
  for (; it < 200; it++) {
    // Secant (regula falsi with Illinois-style fallback to bisection when the step leaves the bracket).
    let xn = b - (fb * (b - a)) / (fb - fa);
    if (!(xn > a && xn < b) || it % 4 === 3) xn = 0.5 * (a + b);
    const fx = pressure(xn).tr;
    x = xn;
    if (fx === 0 || b - a < 1e-15 * x) break;
    if (fx > 0) {
      a = xn;
      fa = fx;
    } else {
      b = xn;
      fb = fx;
    }
  }
  const fin = pressure(x);
  const stressResidual = Math.max(...Array.from(fin.res.virial, Math.abs)) / fin.n;
  return { lattice: makeLattice(name, x), e0: fin.res.energy / fin.n, stressResidual, iterations: it };
}
