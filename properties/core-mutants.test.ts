import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import {
  CHECKS,
  checkCutoffSmoothness,
  checkExtensivity,
  checkForceConstants,
  checkForces,
  checkHessianVector,
  checkHighPrecision,
  checkInvariance,
  checkLocality,
  checkVirial,
  withoutSiteEnergies,
  type CheckFn,
} from '../src/checks/index.ts';
import { buildNeighbourList, type NeighbourList } from '../src/lattice/neighbours.ts';
import type { Structure } from '../src/lattice/structure.ts';
import { makePotential } from '../src/potentials/defaults.ts';
import { EAMPotential } from '../src/potentials/eam.ts';
import { ExpDensity, MorseRadial, QuadraticEmbedding } from '../src/potentials/radial.ts';
import type { EvalResult, SitePotential } from '../src/potentials/types.ts';
import { seedArb } from './core-arbitraries.ts';
import { caseConfig, CUTOFF_CLEARANCE, cutoffClearance, rattledCluster, rattledPeriodic } from '../src/checks/configs.ts';

/**
 * Every check can fail: each is run on a deliberately broken model (the kind of bug it exists to catch) and must
 * report `fail`; checks that need what an engine may not report must `skip`, never `pass`.
 */
const base = makePotential('eam-2d');

/** Wraps a potential, letting a mutation edit its results. */
function mutant(name: string, edit: (r: EvalResult, s: Structure) => EvalResult, hv?: (s: Structure, nl: NeighbourList, v: Float64Array) => Float64Array): SitePotential {
  return {
    name,
    cutoff: base.cutoff,
    describe: () => ({ kind: 'mutant', name }),
    evaluate: (s, nl) => edit(base.evaluate(s, nl), s),
    hessianVector: hv ?? ((s, nl, v) => base.hessianVector(s, nl, v)),
  };
}

const scaled = (f: Float64Array, c: number) => f.map((x) => x * c);

class OffKernel extends EAMPotential {
  override evaluate(s: Structure, nl: NeighbourList): EvalResult {
    const r = super.evaluate(s, nl);
    return { ...r, energy: r.energy * (1 + 1e-11) };
  }
}
function offKernel(): SitePotential {
  return new OffKernel('off', new MorseRadial(0.5, 3, 1, 1.9, 2.5), new ExpDensity(3, 1, 1.9, 2.5), new QuadraticEmbedding(0.05, 10));
}

const MUTANTS: Array<[string, CheckFn, SitePotential]> = [
  ['forces off by 1e-5 relative', checkForces, mutant('forces*(1+1e-5)', (r) => ({ ...r, forces: scaled(r.forces, 1 + 1e-5) }))],
  ['virial off by 1e-5 relative', checkVirial, mutant('virial*(1+1e-5)', (r) => ({ ...r, virial: scaled(r.virial, 1 + 1e-5) }))],
  [
    'Hessian-vector product off by 1e-5 relative',
    checkHessianVector,
    mutant('hv*(1+1e-5)', (r) => r, (s, nl, v) => scaled(base.hessianVector(s, nl, v), 1 + 1e-5)),
  ],
  [
    'Hessian not symmetric (an antisymmetric coupling of atoms 0 and 1)',
    checkForceConstants,
    mutant('hv + skew', (r) => r, (s, nl, v) => {
      const h = base.hessianVector(s, nl, v);
      h[0] += 1e-6 * v[s.dim];
      h[s.dim] -= 1e-6 * v[0];
      return h;
    }),
  ],
  [
    'Hessian not translation invariant (an on-site spring)',
    checkForceConstants,
    mutant('hv + spring', (r) => r, (s, nl, v) => base.hessianVector(s, nl, v).map((x, i) => x + 1e-6 * v[i])),
  ],
  [
    'energy depends on the absolute position (an external field)',
    checkInvariance,
    mutant('E + g.x', (r, s) => {
      let e = 0;
      for (let i = 0; i < s.positions.length; i += s.dim) e += 1e-3 * s.positions[i];
      const f = r.forces.slice();
      for (let i = 0; i < f.length; i += s.dim) f[i] -= 1e-3;
      return { ...r, energy: r.energy + e, forces: f };
    }),
  ],
  ['a potential truncated at rc (energy jumps)', checkCutoffSmoothness, truncated()],
  ['a site energy that sees beyond its declared cutoff', checkLocality, longRange()],
  ['a non-extensive energy (a constant per configuration)', checkExtensivity, mutant('E + 1', (r) => ({ ...r, energy: r.energy + 1 }))],
  ['a float64 kernel off by 1e-11 relative', checkHighPrecision, offKernel()],
];

/** Morse with the smooth cutoff squeezed into [rc - 1e-9, rc]: effectively a hard truncation. */
function truncated(): SitePotential {
  return new EAMPotential('truncated', new MorseRadial(0.5, 3, 1, 2.5 - 1e-9, 2.5));
}

/** Claims cutoff 2.0 but its site energies come from a model with cutoff 2.5 (its own wider neighbour list). */
function longRange(): SitePotential {
  const inner = makePotential('eam-2d');
  return {
    name: 'long-range',
    cutoff: 2.0,
    describe: () => ({ kind: 'mutant' }),
    evaluate: (s) => inner.evaluate(s, buildNeighbourList(s, inner.cutoff)),
    hessianVector: (s, _nl, v) => inner.hessianVector(s, buildNeighbourList(s, inner.cutoff), v),
  };
}

describe('each check fails on the bug it exists to catch', () => {
  for (const [title, check, pot] of MUTANTS) {
    test.prop([seedArb], { numRuns: 3 })(`${check.name}: ${title}`, (seed) => {
      // The locality mutant declares cutoff 2.0: cells sized for 2.0 would break the inner 2.5 model's assumptions,
      // so it runs on the r0 = 1 triangular lattice like the others; the longer range is what must be detected.
      const r = check(pot, { seed, lattice: 'triangular', r0: 1, cases: 1 });
      expect(r.status, JSON.stringify(r)).toBe('fail');
    });
  }
});

describe('checks that need site energies skip on an engine that reports only totals', () => {
  test('locality, compensated sums and high precision skip with the reason; the others still run and pass', () => {
    const eng = withoutSiteEnergies(base);
    for (const [name, check] of Object.entries(CHECKS)) {
      const r = check(eng, { seed: 3, lattice: 'triangular', cases: 1 });
      if (name === 'locality' || name === 'compensated-sum') expect(r.skipped).toBe('skipped: engine reports no site energies');
      else if (name === 'high-precision') expect(r.skipped).toBe('skipped: potential has no high-precision evaluation');
      else if (name === 'knot-regularity') expect(r.skipped).toBe('skipped: potential declares no tabulated functions');
      else expect(r.status, JSON.stringify(r)).toBe('pass');
      if (r.status === 'skip') expect(r.passed).toBe(false);
    }
  });
});

test.prop([fc.constant(null)], { numRuns: 1 })('a NaN result fails, it does not vanish in a max', () => {
  const r = checkForces(mutant('nan', (x) => ({ ...x, forces: x.forces.map((f, i) => (i === 3 ? NaN : f)) })), {
    seed: 1,
    lattice: 'triangular',
    cases: 1,
  });
  expect(r.status).toBe('fail');
  expect(Number.isNaN(r.worst)).toBe(true);
});

describe('force constants of a potential whose Hessian-vector products are finite differences (external engines)', () => {
  /** Declares, as the i-PI engine does, HVPs by central differences of forces (step 1e-4 r0: error ~1e-9 relative). */
  function fdHessian(skew = 0): SitePotential {
    return {
      name: 'fd-hessian',
      cutoff: base.cutoff,
      describe: () => ({ kind: 'fd-hessian', hessianVector: { method: 'central finite differences of forces', step: 1e-4 } }),
      evaluate: (s, nl) => base.evaluate(s, nl),
      hessianVector: (s, nl, v) => {
        const h = 1e-4;
        const at = (t: number) => base.evaluate({ ...s, positions: s.positions.map((x, i) => x + t * v[i]) }, nl).forces;
        const fp = at(h);
        const fm = at(-h);
        const out = fp.map((f, i) => -(f - fm[i]) / (2 * h));
        out[0] += skew * v[s.dim];
        out[s.dim] -= skew * v[0];
        return out;
      },
    };
  }
  test.prop([seedArb], { numRuns: 2 })('are judged at the hessian-vector tolerance, and the result says so', (seed) => {
    const r = checkForceConstants(fdHessian(), { seed, lattice: 'triangular', cases: 1 });
    expect(r.tolerance).toBe(1e-7);
    expect(r.worstCase.hessian).toMatch(/finite differences/);
    // Central differences are not symmetric to round-off: the analytic tolerance would fail an exact model.
    expect(r.worst).toBeGreaterThan(1e-11);
    expect(r.status, JSON.stringify(r)).toBe('pass');
    const analytic = checkForceConstants(base, { seed, lattice: 'triangular', cases: 1 });
    expect(analytic.tolerance).toBe(1e-11);
  });
  test.prop([seedArb], { numRuns: 2 })('still fail on a real asymmetry far above the differencing error', (seed) => {
    const r = checkForceConstants(fdHessian(1e-4), { seed, lattice: 'triangular', cases: 1 });
    expect(r.status, JSON.stringify(r)).toBe('fail');
  });
});

describe('derivative-check configurations keep every pair distance clear of the cutoff (stencils stay on one side)', () => {
  test.prop([seedArb, fc.constantFrom('eam-2d', 'eam-fcc', 'lj-2d', 'snap-like'), fc.constantFrom(0.04, 0.1)], { numRuns: 12 })(
    'clearance >= CUTOFF_CLEARANCE rc, atoms moved by at most CUTOFF_CLEARANCE rc, and the same seed replays',
    (seed, name, rattle) => {
      // snap-like: fcc with rc between the 2nd and 3rd shells, as Ni SNAP (4.1 A at r0 2.49). Only the cutoff matters
      // to the configuration, and r0 is given, so no equilibrium solve runs.
      const pot: SitePotential =
        name === 'snap-like' ? Object.assign(Object.create(makePotential('eam-fcc')), { cutoff: 4.1 / 2.49 }) : makePotential(name);
      const lattice = name === 'eam-fcc' || name === 'snap-like' ? 'fcc' : 'triangular';
      const opts = { seed, lattice, rattle, r0: 1 } as const;
      const a = caseConfig(pot, opts, seed);
      const b = caseConfig(pot, opts, seed);
      expect(a.cutoffClearance).toBeGreaterThanOrEqual(CUTOFF_CLEARANCE * pot.cutoff);
      expect(cutoffClearance(a.structure, pot.cutoff)).toBe(a.cutoffClearance);
      expect(Array.from(b.structure.positions)).toEqual(Array.from(a.structure.positions));
      // Against the same draw without clearing: small moves only.
      const raw = a.boundary === 'periodic'
        ? rattledPeriodic(pot, lattice, 1, seed, rattle)
        : rattledCluster(lattice, 1, Math.max(1.5, pot.cutoff), seed, rattle);
      let moved = 0;
      for (let i = 0; i < raw.positions.length; i++) moved = Math.max(moved, Math.abs(raw.positions[i] - a.structure.positions[i]));
      expect(moved).toBeLessThanOrEqual(a.nudges === 0 ? 0 : 5 * CUTOFF_CLEARANCE * pot.cutoff);
    },
  );
});

describe('extensivity of an engine that sums its energy plainly', () => {
  const plain = (pot: SitePotential, edit: (r: EvalResult) => EvalResult = (r) => r): SitePotential => ({
    name: `plain(${pot.name})`,
    cutoff: pot.cutoff,
    describe: () => ({ ...pot.describe(), energySummation: 'plain' }),
    evaluate: (s, nl) => edit(pot.evaluate(s, nl)),
    hessianVector: (s, nl, v) => pot.hessianVector(s, nl, v),
  });
  test.prop([seedArb], { numRuns: 2 })('is judged against the Wilkinson bound of its terms, and the result says so', (seed) => {
    const r = checkExtensivity(plain(base), { seed, lattice: 'triangular', cases: 1 });
    const tols = r.worstCase.tolerances as { energy: number };
    const terms = Number(/plain float64 sum of (\d+) terms/.exec(String(r.worstCase.energySummation))?.[1]);
    expect(terms).toBeGreaterThan(r.worstCase.atoms as number);
    expect(tols.energy).toBe(Math.max(1e-12, 4 * terms * 2 ** -53));
    expect(r.status, JSON.stringify(r)).toBe('pass');
  });
  test.prop([seedArb], { numRuns: 2 })('still fails on a non-extensive energy far above that bound', (seed) => {
    const r = checkExtensivity(plain(base, (x) => ({ ...x, energy: x.energy + 1e-6 })), { seed, lattice: 'triangular', cases: 1 });
    expect(r.status, JSON.stringify(r)).toBe('fail');
  });
});
