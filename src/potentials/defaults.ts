import type { LatticeName } from '../lattice/lattice.ts';
import { ParameterError } from '../util/errors.ts';
import { EAMPotential } from './eam.ts';
import { ExpDensity, LennardJonesRadial, MorseRadial, QuadraticEmbedding } from './radial.ts';

/**
 * Default reference potentials, in reduced units (nearest-neighbour distance about 1, bond energy about 1). The
 * cutoffs reach the third neighbour shell of the triangular lattice (r = 2) and the fourth of fcc (r = 2), so the
 * models are genuinely longer-ranged than nearest neighbours, with the smooth cutoff acting beyond those shells.
 */
export interface PotentialFactory {
  readonly description: string;
  /** Lattice the parameters were chosen for (the default lattice of studies using this potential). */
  readonly lattice: LatticeName;
  create(params?: Record<string, number>): EAMPotential;
}

function num(p: Record<string, number> | undefined, key: string, dflt: number): number {
  const v = p?.[key];
  return v === undefined ? dflt : v;
}

/** A null-prototype table: a name such as 'toString' or '__proto__' is not a potential (fast-check found
 * `POTENTIALS['toString']` truthy, so the spec parser took 'toString' for a built-in). */
const TABLE: Record<string, PotentialFactory> = {
  'eam-2d': {
    description: 'EAM for the 2D triangular lattice: Morse pair, exponential density, quadratic embedding',
    lattice: 'triangular',
    create: (p) =>
      new EAMPotential(
        'eam-2d',
        new MorseRadial(num(p, 'D', 0.5), num(p, 'alpha', 4), num(p, 'r0', 1), num(p, 'rin', 1.9), num(p, 'rc', 2.5)),
        new ExpDensity(num(p, 'beta', 3), num(p, 'r0', 1), num(p, 'rin', 1.9), num(p, 'rc', 2.5)),
        new QuadraticEmbedding(num(p, 'C', 0.05), num(p, 'rho1', 10)),
      ),
  },
  'eam-fcc': {
    description: 'EAM for fcc: Morse pair, exponential density, quadratic embedding',
    lattice: 'fcc',
    create: (p) =>
      new EAMPotential(
        'eam-fcc',
        new MorseRadial(num(p, 'D', 0.3), num(p, 'alpha', 3.5), num(p, 'r0', 1), num(p, 'rin', 1.6), num(p, 'rc', 2.1)),
        new ExpDensity(num(p, 'beta', 3.5), num(p, 'r0', 1), num(p, 'rin', 1.6), num(p, 'rc', 2.1)),
        new QuadraticEmbedding(num(p, 'C', 0.02), num(p, 'rho1', 20)),
      ),
  },
  'morse-2d': {
    description: 'Morse pair potential with a smooth cutoff (triangular lattice)',
    lattice: 'triangular',
    create: (p) =>
      new EAMPotential(
        'morse-2d',
        new MorseRadial(num(p, 'D', 1), num(p, 'alpha', 4), num(p, 'r0', 1), num(p, 'rin', 1.9), num(p, 'rc', 2.5)),
      ),
  },
  'lj-2d': {
    description: 'Lennard-Jones pair potential with a smooth cutoff (triangular lattice)',
    lattice: 'triangular',
    create: (p) =>
      new EAMPotential(
        'lj-2d',
        new LennardJonesRadial(num(p, 'epsilon', 1), num(p, 'sigma', 2 ** (-1 / 6)), num(p, 'rin', 2.0), num(p, 'rc', 2.5)),
      ),
  },
};
export const POTENTIALS: Record<string, PotentialFactory> = Object.assign(Object.create(null) as Record<string, PotentialFactory>, TABLE);

export function potentialNames(): string[] {
  return Object.keys(POTENTIALS);
}

export function makePotential(name: string, params?: Record<string, number>): EAMPotential {
  const f = POTENTIALS[name];
  if (!f) throw new ParameterError(`unknown potential '${name}'; valid potentials: ${potentialNames().join(', ')}`);
  return f.create(params);
}
