import fc from 'fast-check';
import type { LatticeName } from '../src/lattice/lattice.ts';
import { makePotential, POTENTIALS } from '../src/potentials/defaults.ts';
import type { EAMPotential } from '../src/potentials/eam.ts';

/**
 * Random parameters in a physical range for each default potential: wells, stiffnesses and embedding within roughly
 * +-50% of the defaults, inner cutoff and cutoff width varied, so the smooth cutoff acts at different shells. Every
 * draw has a stress-free lattice (checked by the extensivity property, which solves for it).
 */
const d = (min: number, max: number) => fc.double({ min, max, noNaN: true, noDefaultInfinity: true });

function withCutoff(rin: [number, number], width: [number, number], rest: Record<string, fc.Arbitrary<number>>) {
  return fc.record({ ...rest, rin: d(...rin), width: d(...width) }).map(({ width: w, ...p }) => ({ ...p, rc: p.rin + w }));
}

export const PARAMS: Record<string, fc.Arbitrary<Record<string, number>>> = {
  'eam-2d': withCutoff([1.8, 2.0], [0.4, 0.7], { D: d(0.3, 0.8), alpha: d(2.5, 4), beta: d(2.5, 4), C: d(0.02, 0.1), rho1: d(5, 15) }),
  'eam-fcc': withCutoff([1.5, 1.7], [0.4, 0.6], { D: d(0.2, 0.4), alpha: d(3, 4), beta: d(3, 4), C: d(0.01, 0.04), rho1: d(15, 25) }),
  'morse-2d': withCutoff([1.8, 2.0], [0.4, 0.7], { D: d(0.5, 2), alpha: d(3, 5) }),
  'lj-2d': withCutoff([1.9, 2.1], [0.4, 0.6], { epsilon: d(0.5, 2), sigma: d(0.85, 0.95) }),
};

export const POTENTIAL_NAMES = Object.keys(PARAMS);

export function lattice(name: string): LatticeName {
  return POTENTIALS[name].lattice;
}

export function potential(name: string, params: Record<string, number>): EAMPotential {
  return makePotential(name, params);
}

/** Seeds of the generated configurations (the checks derive everything random from them). */
export const seedArb = fc.integer({ min: 0, max: 2 ** 31 - 1 });
/** Lattice spacing around the stress-free one: configurations under tension and compression. */
export const r0Arb = d(0.9, 1.05);
export const boundaryArb = fc.constantFrom<'periodic' | 'open'>('periodic', 'open');

/** Fewer runs for the 3D potential, whose cells are ~5x larger. */
export function runs(name: string, n2d: number, n3d: number): number {
  return lattice(name) === 'fcc' ? n3d : n2d;
}
