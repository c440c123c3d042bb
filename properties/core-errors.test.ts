import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { rattledCluster, rattledPeriodic } from '../src/checks/configs.ts';
import { periodicDomain } from '../src/lattice/domain.ts';
import { makeLattice } from '../src/lattice/lattice.ts';
import { buildNeighbourList } from '../src/lattice/neighbours.ts';
import { makePotential } from '../src/potentials/defaults.ts';
import { EAMPotential } from '../src/potentials/eam.ts';
import { evaluate } from '../src/potentials/evaluate.ts';
import { ExpDensity, MorseRadial, SqrtEmbedding } from '../src/potentials/radial.ts';
import { GeometryError, ParameterError } from '../src/util/errors.ts';
import { PARAMS, POTENTIAL_NAMES, seedArb } from './core-arbitraries.ts';

/** Bad input is a typed error naming the atom or parameter; nothing is clipped. */
function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('expected an error, none was thrown');
}

const pot = makePotential('eam-2d');

describe('bad input', () => {
  test.prop([seedArb, fc.boolean(), fc.nat(), fc.nat({ max: 1 }), fc.constantFrom(NaN, Infinity, -Infinity)], { numRuns: 30 })(
    'a NaN or infinite coordinate is a GeometryError naming the atom',
    (seed, periodic, pick, comp, bad) => {
      const s = periodic ? rattledPeriodic(pot, 'triangular', 1, seed) : rattledCluster('triangular', 1, 2.5, seed);
      const n = s.positions.length / 2;
      const atom = pick % n;
      s.positions[atom * 2 + comp] = bad;
      const e = thrown(() => evaluate(pot, s));
      expect(e).toBeInstanceOf(GeometryError);
      expect((e as Error).message).toContain(`atom ${atom} `);
      expect((e as GeometryError).details.atom).toBe(atom);
    },
  );

  test.prop([seedArb, fc.boolean(), fc.nat(), fc.nat(), fc.double({ min: 0, max: 5e-7, noNaN: true })], { numRuns: 30 })(
    'two atoms closer than 1e-6 are a GeometryError naming both',
    (seed, periodic, pi, pj, gap) => {
      const s = periodic ? rattledPeriodic(pot, 'triangular', 1, seed) : rattledCluster('triangular', 1, 2.5, seed);
      const n = s.positions.length / 2;
      const i = pi % n;
      let j = pj % n;
      if (j === i) j = (i + 1) % n;
      s.positions[j * 2] = s.positions[i * 2] + gap;
      s.positions[j * 2 + 1] = s.positions[i * 2 + 1];
      const e = thrown(() => evaluate(pot, s));
      expect(e).toBeInstanceOf(GeometryError);
      expect((e as Error).message).toContain(`atoms ${Math.min(i, j)} and ${Math.max(i, j)} overlap`);
    },
  );

  test.prop([fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5 })], { numRuns: 20 })(
    'a periodic cell narrower than twice the cutoff is a GeometryError naming the axis',
    (n0, n1) => {
      // Triangular cell of r0 = 1: perpendicular width sqrt(3)/2 per repetition; cutoff 2.5 needs 6 repetitions.
      const l = makeLattice('triangular', 1);
      const tooSmall = n0 < 6 || n1 < 6;
      const e = thrown(() => periodicDomain(l, 'none', 1, 2.5, [n0, n1]));
      expect(e).toBeInstanceOf(GeometryError);
      expect((e as Error).message).toMatch(/periodic cell too small: .* along cell vector [01] is below twice the cutoff/);
      expect(tooSmall).toBe(true);
      // The same cell handed to evaluate directly is refused too.
      const big = periodicDomain(l, 'none', 1, 2.5, [6, 6]).structure;
      const cell = big.cell!.slice();
      for (let k = 0; k < 2; k++) cell[k] *= n0 / 6;
      expect(() => evaluate(pot, { dim: 2, positions: big.positions, cell })).toThrow(n0 < 6 ? GeometryError : Error);
    },
  );

  test.prop([fc.constantFrom(0, -1, -1e-9, NaN, -Infinity)])('a zero, negative or NaN cutoff is an error naming it', (rc) => {
    const s = rattledCluster('triangular', 1, 2, 1);
    expect(() => buildNeighbourList(s, rc)).toThrow(/cutoff must be > 0/);
    const e = thrown(() => new MorseRadial(1, 3, 1, 0, rc));
    expect(e).toBeInstanceOf(ParameterError);
    expect((e as Error).message).toContain('rc (cutoff)');
  });

  test.prop(
    [fc.constantFrom(...POTENTIAL_NAMES).chain((name) => fc.tuple(fc.constant(name), PARAMS[name], fc.constantFrom(0, -0.5, NaN, Infinity))), fc.nat()],
    { numRuns: 40 },
  )('a potential parameter outside its domain is a ParameterError naming it', ([name, params, bad], pick) => {
    const keys = Object.keys(params).filter((k) => k !== 'rin' && k !== 'rc');
    const k = keys[pick % keys.length];
    const e = thrown(() => makePotential(name, { ...params, [k]: bad }));
    expect(e).toBeInstanceOf(ParameterError);
    expect((e as Error).message).toMatch(new RegExp(`parameter ${k} `));
  });

  test.prop([fc.double({ min: 0.1, max: 3, noNaN: true }), fc.double({ min: 1.2, max: 4, noNaN: true })])(
    'an inner cutoff outside [0, rc) is a ParameterError naming rin',
    (rc, f) => {
      const e = thrown(() => new MorseRadial(1, 3, 1, rc * f, rc));
      expect(e).toBeInstanceOf(ParameterError);
      expect((e as Error).message).toContain('rin (inner cutoff)');
    },
  );

  test.prop([fc.double({ min: 2.6, max: 10, noNaN: true }), fc.nat({ max: 2 })], { numRuns: 20 })(
    'the Finnis-Sinclair embedding at rho = 0 (an isolated atom) is a GeometryError naming the site',
    (gap, lone) => {
      const fs = new EAMPotential('fs', new MorseRadial(1, 3, 1, 1.9, 2.5), new ExpDensity(3, 1, 1.9, 2.5), new SqrtEmbedding(1));
      // Two bonded atoms and one beyond the cutoff of both.
      const x = [0, 0, 1, 0, 1 + gap, 0];
      const order = [0, 1, 2];
      order.splice(lone, 0, order.pop()!); // put the lone atom at index `lone`
      const pos = new Float64Array(6);
      order.forEach((src, dst) => pos.set(x.slice(src * 2, src * 2 + 2), dst * 2));
      const e = thrown(() => evaluate(fs, { dim: 2, positions: pos, cell: null }));
      expect(e).toBeInstanceOf(GeometryError);
      expect((e as Error).message).toContain(`site ${lone} has density 0`);
    },
  );

  test('unknown names are ParameterErrors listing the valid ones', () => {
    expect(() => makePotential('nope')).toThrow(/unknown potential 'nope'; valid potentials: eam-2d/);
    expect(() => makeLattice('hex' as never)).toThrow(/unknown lattice 'hex'/);
  });
});
