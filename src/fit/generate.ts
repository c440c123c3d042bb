import { periodicDomain, type DefectKind, type Domain } from '../lattice/domain.ts';
import { siteKey, type Lattice } from '../lattice/lattice.ts';
import { buildNeighbourList } from '../lattice/neighbours.ts';
import { assertCellFitsCutoff, perpendicularWidths, type Structure } from '../lattice/structure.ts';
import { forceConstants } from '../potentials/evaluate.ts';
import type { SitePotential } from '../potentials/types.ts';
import { ParameterError, requireParam } from '../util/errors.ts';
import { Rng } from '../util/rng.ts';
import { OBSERVATION_SETS, observationKinds, type ObservationKind, type TrainingConfig, type TrainingSet } from './types.ts';

/** What the reference potential is asked for on one structure. */
export interface ObserveRequest {
  energy?: boolean;
  forces?: boolean;
  virial?: boolean;
  /** Atom whose force-constant columns (dim Hessian-vector products) are recorded. */
  fcAtom?: number;
}

/** Observations of the reference potential: E, F, V of a (periodic) structure and FC columns of one atom. */
export function observe(
  ref: SitePotential,
  s: Structure,
  req: ObserveRequest,
): Pick<TrainingConfig, 'energy' | 'forces' | 'virial' | 'forceConstants'> {
  assertCellFitsCutoff(s, ref.cutoff);
  const out: Pick<TrainingConfig, 'energy' | 'forces' | 'virial' | 'forceConstants'> = {};
  if (req.energy || req.forces || req.virial) {
    const r = ref.evaluate(s, buildNeighbourList(s, ref.cutoff));
    if (req.energy) out.energy = r.energy;
    if (req.forces) out.forces = r.forces;
    if (req.virial && s.cell) out.virial = r.virial;
  }
  if (req.fcAtom !== undefined) {
    const fc = forceConstants(ref, s, [req.fcAtom]);
    out.forceConstants = { atom: req.fcAtom, columns: fc.columns.slice() };
  }
  return out;
}

/** Relaxes the defect domain with the reference potential; returns the relaxed structure (same atom order). */
export type RelaxFn = (pot: SitePotential, domain: Domain) => Structure | Promise<Structure>;

export interface TrainingSetOptions {
  reference: SitePotential;
  /** The reference's stress-free lattice (potentials/equilibrium.ts). */
  lattice: Lattice;
  defect: DefectKind;
  /** Side of the periodic training cell. */
  rDom: number;
  /** Observation kinds entering the fit (default E+F+V). */
  observations?: string | readonly ObservationKind[];
  /** Rattled copies of the relaxed defect (default 4). */
  rattled?: number;
  /** Standard deviation of the Gaussian rattle per component, in units of r0 (default 0.03). */
  rattleAmplitude?: number;
  /** Base seed: rattled copy q uses seed + q (default 1); every seed is recorded on its configuration. */
  seed?: number;
  /** Amplitude of the homogeneous strains of the perfect cells (default 0.01); +- on each independent component. */
  strain?: number;
  /** Cutoff the cells must carry (default the reference's): pass the largest MLIP cutoff that will be fitted. */
  cutoff?: number;
  /** The relaxed defect cell (reference potential), or a relaxation routine (e.g. src/relax relaxDefect). */
  relaxed?: Structure;
  relax?: RelaxFn;
  /** Per-role configuration weights (default 1 each): defect-relaxed, defect-rattled, strained-perfect, perfect. */
  roleWeights?: Partial<Record<TrainingRole, number>>;
  /**
   * 'by-kind' (default): strained perfect cells only when V is observed, the FC perfect cell only when FC is.
   * 'always': both in every set (their E and F enter the fit; V and FC only when observed), so that sets differ in
   * the observation kinds alone, not in the configurations (the training-size study compares sets this way).
   */
  perfectCells?: 'by-kind' | 'always';
}

export type TrainingRole = 'defect-relaxed' | 'defect-rattled' | 'strained-perfect' | 'perfect';

function kindsOf(o: TrainingSetOptions['observations']): ObservationKind[] {
  if (o === undefined) return ['E', 'F', 'V'];
  if (typeof o === 'string') {
    if (!(OBSERVATION_SETS as readonly string[]).includes(o)) {
      throw new ParameterError(`unknown observation set '${o}'; valid: ${OBSERVATION_SETS.join(', ')}`);
    }
    return observationKinds(o);
  }
  for (const k of o) if (!['E', 'F', 'V', 'FC'].includes(k)) throw new ParameterError(`unknown observation kind '${k}'`);
  return [...o];
}

/** Homogeneous deformation x -> (I + eps) x of positions and cell. */
export function strainStructure(s: Structure, eps: Float64Array): Structure {
  const dim = s.dim;
  const F = new Float64Array(dim * dim);
  for (let a = 0; a < dim; a++) for (let b = 0; b < dim; b++) F[a * dim + b] = (a === b ? 1 : 0) + eps[a * dim + b];
  const map = (x: Float64Array): Float64Array => {
    const o = new Float64Array(x.length);
    for (let i = 0; i < x.length; i += dim)
      for (let a = 0; a < dim; a++) {
        let t = 0;
        for (let b = 0; b < dim; b++) t += F[a * dim + b] * x[i + b];
        o[i + a] = t;
      }
    return o;
  };
  return { dim, positions: map(s.positions), cell: s.cell ? map(s.cell) : null };
}

/** Gaussian rattle of every coordinate (standard deviation sigma), seeded. */
export function rattle(s: Structure, sigma: number, seed: number): Structure {
  const rng = new Rng(seed);
  const x = s.positions.slice();
  for (let i = 0; i < x.length; i++) x[i] += sigma * rng.normal();
  return { dim: s.dim, positions: x, cell: s.cell };
}

/** Periodic perfect cell whose perpendicular widths are all >= minWidth. */
function perfectCell(l: Lattice, minWidth: number, cutoff: number): Domain {
  const w = perpendicularWidths(l.cell, l.dim);
  const reps = w.map((wk) => Math.max(1, Math.ceil(minWidth / wk - 1e-12)));
  return periodicDomain(l, 'none', 1, cutoff, reps);
}

/**
 * Training set for (defect, R_dom): the relaxed defect in a periodic cell of side R_dom; `rattled` Gaussian-rattled
 * copies of it (forces away from equilibrium, seeded); strained perfect cells, +-strain on every independent strain
 * component (energies and virials away from zero stress; only when V is observed); and the perfect lattice in a cell
 * at least 4 cutoffs wide (only when FC is observed), so its Hessian column is the infinite lattice's, not a folded
 * one. Every configuration carries the reference's E, F, V (and FC for the perfect lattice); which kinds enter the fit
 * is `observations`. The strained and perfect cells do not depend on R_dom, so only the defect cells change with it.
 */
export async function generateTrainingSet(o: TrainingSetOptions): Promise<TrainingSet> {
  const kinds = kindsOf(o.observations);
  const ref = o.reference;
  const l = o.lattice;
  const cutoff = Math.max(ref.cutoff, o.cutoff ?? 0);
  requireParam('rDom', o.rDom, (v) => v > 0, '> 0');
  const nRattle = o.rattled ?? 4;
  requireParam('rattled', nRattle, (v) => Number.isInteger(v) && v >= 0, 'an integer >= 0');
  const amp = (o.rattleAmplitude ?? 0.03) * l.r0;
  requireParam('rattleAmplitude', amp, (v) => v >= 0, '>= 0');
  const seed = o.seed ?? 1;
  const strain = o.strain ?? 0.01;
  const rw = (r: TrainingRole) => o.roleWeights?.[r] ?? 1;
  const dom = periodicDomain(l, o.defect, o.rDom, cutoff);
  let relaxed: Structure;
  let relaxation = 'given';
  if (o.relaxed) {
    relaxed = o.relaxed;
    if (relaxed.positions.length !== dom.structure.positions.length) {
      throw new ParameterError(
        `relaxed structure has ${relaxed.positions.length / relaxed.dim} atoms, the ${o.defect} cell of side ${o.rDom} has ${dom.keys.length}`,
      );
    }
  } else if (o.relax) {
    relaxed = await o.relax(ref, dom);
    relaxation = 'relax function';
  } else {
    throw new ParameterError('generateTrainingSet needs the relaxed defect structure (relaxed) or a relax function (relax)');
  }
  const all = { energy: true, forces: true, virial: true };
  const configs: TrainingConfig[] = [];
  configs.push({ role: 'defect-relaxed', structure: relaxed, weight: rw('defect-relaxed'), ...observe(ref, relaxed, all) });
  for (let q = 0; q < nRattle; q++) {
    const s = rattle(relaxed, amp, seed + q);
    configs.push({ role: 'defect-rattled', structure: s, weight: rw('defect-rattled'), seed: seed + q, ...observe(ref, s, all) });
  }
  let nStrained = 0;
  const always = (o.perfectCells ?? 'by-kind') === 'always';
  if (o.perfectCells !== undefined && o.perfectCells !== 'by-kind' && o.perfectCells !== 'always') {
    throw new ParameterError(`perfectCells must be 'by-kind' or 'always', got '${String(o.perfectCells)}'`);
  }
  if (kinds.includes('V') || always) {
    const base = perfectCell(l, 2 * cutoff * 1.05, cutoff).structure;
    const d = l.dim;
    for (let a = 0; a < d; a++)
      for (let b = a; b < d; b++)
        for (const sg of [1, -1]) {
          const eps = new Float64Array(d * d);
          eps[a * d + b] += (sg * strain) / (a === b ? 1 : 2);
          if (a !== b) eps[b * d + a] += (sg * strain) / 2;
          const s = strainStructure(base, eps);
          configs.push({ role: 'strained-perfect', structure: s, weight: rw('strained-perfect'), ...observe(ref, s, all) });
          nStrained++;
        }
  }
  if (kinds.includes('FC') || always) {
    const pd = perfectCell(l, 4 * cutoff * 1.05, cutoff);
    const zero = new Array(l.dim).fill(0);
    const atom = pd.keys.indexOf(siteKey(zero, 0));
    configs.push({
      role: 'perfect',
      structure: pd.structure,
      weight: rw('perfect'),
      ...observe(ref, pd.structure, { ...all, fcAtom: atom < 0 ? 0 : atom }),
    });
  }
  const counts: Record<string, number> = {};
  for (const c of configs) counts[c.role] = (counts[c.role] ?? 0) + 1;
  return {
    configs,
    observations: kinds,
    meta: {
      reference: ref.describe(),
      lattice: { name: l.name, dim: l.dim, r0: l.r0 },
      defect: o.defect,
      rDom: o.rDom,
      cellRepetitions: dom.repetitions,
      defectAtoms: dom.keys.length,
      cutoff,
      rattleAmplitude: amp,
      seed,
      seeds: configs.filter((c) => c.seed !== undefined).map((c) => c.seed),
      strain,
      counts,
      strained: nStrained,
      relaxation,
      perfectCells: o.perfectCells ?? 'by-kind',
    },
  };
}
