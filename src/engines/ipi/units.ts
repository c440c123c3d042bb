import { EngineError } from '../errors.ts';

/**
 * Unit systems for the i-PI wire. i-PI speaks atomic units (Bohr, Hartree) on the socket; every engine works in its
 * own units (LAMMPS `metal`: Angstrom and eV; our reference potentials: reduced units). A unit system says what one
 * Bohr and one Hartree are in the engine's units, and the conversions below are the only place they are applied.
 *
 * Why several "Angstrom/eV" systems: the clients do not agree on the constants. ASE converts with CODATA 2014
 * (`ase.units`, its default; derived from the fundamental constants, see ASE_BOHR_ANGSTROM), newer codes with CODATA 2018, and LAMMPS `fix ipi` with its own truncated values
 * (0.52917721 Angstrom per Bohr, and 3.1668152e-6 Hartree per Kelvin divided by its Boltzmann constant). Pairing the
 * client with the constants it uses makes the round trip exact to the last bit or two; a mismatch shows up as a
 * relative error of about 1e-8 in energies, which matters when checks compare at 1e-10. Forces and virials follow
 * from the two base constants (force: Hartree/Bohr, virial: Hartree), so they cannot be inconsistent with them.
 */
export interface UnitSystem {
  readonly name: string;
  /** One Bohr expressed in the engine's length unit. */
  readonly bohr: number;
  /** One Hartree expressed in the engine's energy unit. */
  readonly hartree: number;
  /** Human-readable names of the engine's units, for reports. */
  readonly length: string;
  readonly energy: string;
}

/** CODATA 2014 Bohr radius in Angstrom and Hartree in eV, as ASE's default `ase.units` (version '2014'). */
export const BOHR_ANGSTROM_CODATA2014 = 0.52917721067;
export const HARTREE_EV_CODATA2014 = 27.21138602;
/**
 * What ASE actually uses: ase.units derives Bohr = 4 pi eps0 hbar^2 / (m_e e^2) and Ha = m_e e^4 / (8 eps0^2 h^2)
 * from the CODATA 2014 fundamental constants (ASE 3.22 and later, default version '2014'), which differs from the
 * rounded recommended values above by 2e-10 relative (measured through the ASE client: a 32-atom EMT cell then
 * disagreed by 1.8e-9 eV). These are the doubles ASE computes.
 */
export const ASE_BOHR_ANGSTROM = 0.5291772105638411;
export const ASE_HARTREE_EV = 27.211386024367243;
/** CODATA 2018 values. */
export const BOHR_ANGSTROM_CODATA2018 = 0.529177210903;
export const HARTREE_EV_CODATA2018 = 27.211386245988;
/** LAMMPS `fix ipi` (src/MISC/fix_ipi.cpp): posconv = 0.52917721 * force->angstrom. */
export const LAMMPS_FIX_IPI_BOHR_ANGSTROM = 0.52917721;
/** LAMMPS `fix ipi`: potconv = 3.1668152e-06 / force->boltz, i.e. Hartree per Kelvin over k_B in engine units. */
export const LAMMPS_FIX_IPI_HARTREE_PER_KELVIN = 3.1668152e-6;
/** LAMMPS `units metal` Boltzmann constant (eV/K), as in update.cpp. */
export const LAMMPS_BOLTZ_METAL = 8.617343e-5;
/** LAMMPS `units real` Boltzmann constant (kcal/mol/K). */
export const LAMMPS_BOLTZ_REAL = 0.0019872067;

export const UNIT_SYSTEMS: Readonly<Record<string, UnitSystem>> = {
  atomic: { name: 'atomic', bohr: 1, hartree: 1, length: 'Bohr', energy: 'Hartree' },
  ase: {
    name: 'ase',
    bohr: ASE_BOHR_ANGSTROM,
    hartree: ASE_HARTREE_EV,
    length: 'Angstrom',
    energy: 'eV',
  },
  codata2018: {
    name: 'codata2018',
    bohr: BOHR_ANGSTROM_CODATA2018,
    hartree: HARTREE_EV_CODATA2018,
    length: 'Angstrom',
    energy: 'eV',
  },
  'lammps-metal': {
    name: 'lammps-metal',
    bohr: LAMMPS_FIX_IPI_BOHR_ANGSTROM,
    hartree: LAMMPS_BOLTZ_METAL / LAMMPS_FIX_IPI_HARTREE_PER_KELVIN,
    length: 'Angstrom',
    energy: 'eV',
  },
  'lammps-real': {
    name: 'lammps-real',
    bohr: LAMMPS_FIX_IPI_BOHR_ANGSTROM,
    hartree: LAMMPS_BOLTZ_REAL / LAMMPS_FIX_IPI_HARTREE_PER_KELVIN,
    length: 'Angstrom',
    energy: 'kcal/mol',
  },
};

/**
 * A unit system by preset name, or a custom one for reduced units: `{ bohr, hartree }` = what one Bohr and one
 * Hartree are in the engine's units (e.g. a reduced-unit model whose length unit is 2.5 Bohr has bohr = 0.4).
 */
export function unitSystem(spec: string | { bohr: number; hartree: number; name?: string }): UnitSystem {
  if (typeof spec === 'string') {
    const u = UNIT_SYSTEMS[spec];
    if (!u) {
      throw new EngineError('config', `unknown unit system '${spec}'; valid: ${Object.keys(UNIT_SYSTEMS).join(', ')}`);
    }
    return u;
  }
  for (const k of ['bohr', 'hartree'] as const) {
    const v = spec[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || !(v > 0)) {
      throw new EngineError('config', `unit system: ${k} = ${v} must be a finite number > 0`);
    }
  }
  return { name: spec.name ?? 'custom', bohr: spec.bohr, hartree: spec.hartree, length: 'engine length', energy: 'engine energy' };
}

/** Engine length -> Bohr. */
export function lengthToAtomic(x: number, u: UnitSystem): number {
  return x / u.bohr;
}
/** Hartree -> engine energy (energies and virials). */
export function energyFromAtomic(e: number, u: UnitSystem): number {
  return e * u.hartree;
}
/** Hartree/Bohr -> engine force. */
export function forceFromAtomic(f: number, u: UnitSystem): number {
  return (f * u.hartree) / u.bohr;
}
/** Inverses, used by clients (the test client and any driver written on top of this module). */
export function lengthFromAtomic(x: number, u: UnitSystem): number {
  return x * u.bohr;
}
export function energyToAtomic(e: number, u: UnitSystem): number {
  return e / u.hartree;
}
export function forceToAtomic(f: number, u: UnitSystem): number {
  return (f * u.bohr) / u.hartree;
}
