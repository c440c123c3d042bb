import { relaxFrom, transferField } from '../convergence/branch.ts';
import { defectNeighbourGraph, displacementErrors, formationEnergyError, type DisplacementErrors } from '../convergence/errors.ts';
import { generateTrainingSet, observe } from '../fit/generate.ts';
import { LinearTrainer } from '../fit/linear.ts';
import type { ObservationKind, TrainedModel, Trainer, TrainingSet } from '../fit/types.ts';
import type { TrainingRole } from '../fit/generate.ts';
import { makeDomain, periodicDomain, smallestPerfectCell, type DefectKind } from '../lattice/domain.ts';
import type { Lattice, LatticeName } from '../lattice/lattice.ts';
import type { Structure } from '../lattice/structure.ts';
import { perturb } from '../potentials/combine.ts';
import { makePotential, POTENTIALS } from '../potentials/defaults.ts';
import { equilibriumLattice, type PerfectLattice } from '../potentials/equilibrium.ts';
import { evaluate } from '../potentials/evaluate.ts';
import type { SitePotential } from '../potentials/types.ts';
import { perfectLatticeEnergy, relaxDefect, type DefectRelaxation } from '../relax/defect.ts';
import { relax } from '../relax/relax.ts';
import type { SolverName } from '../relax/types.ts';
import { ParameterError, requireParam } from '../util/errors.ts';

/**
 * The fit-and-relax pipeline of THEORY.md section 2, as five steps that can each be used alone:
 *
 *   referenceStep  -> the "exact" defect: relaxed with the reference potential in a large clamped ball R_ref, and its
 *                     own truncation error estimated from a second ball of half the radius (as the P1 study does);
 *   trainingStep   -> the training set at cell size R_dom (src/fit/generate.ts), its defect cell relaxed with the
 *                     reference (cached per R_dom);
 *   fitStep        -> a Trainer (default: the linear least-squares MLIP) turns the set into a SitePotential;
 *   mlipRelaxStep  -> the defect relaxed with the fitted MLIP in the same large ball, started from the reference
 *                     lattice (never from the reference answer); E_f^H uses the MLIP's own perfect-lattice energy;
 *   errorStep      -> energy norm, max norm and formation-energy error of the MLIP defect against the reference.
 *
 * Each step returns a record of its inputs, seeds and wall time, JSON-friendly apart from the heavy objects it
 * carries for the next step (structures, potentials), which `summarise*` helpers drop.
 */

export interface RelaxSettings {
  solver?: SolverName;
  /** max |F| tolerance of every relaxation (default 1e-10). */
  tol?: number;
  maxIterations?: number;
  /** Per-relaxation time limit in seconds (ConvergenceError when exceeded). */
  timeLimitSeconds?: number;
}

// ---------------------------------------------------------------- reference

export interface ReferenceOptions extends RelaxSettings {
  /** Reference potential name (POTENTIALS), ignored when `pot` is given. Default 'eam-2d'. */
  potential?: string;
  params?: Record<string, number>;
  /** A ready-made reference potential; `cacheKey` should then identify it (default: JSON of its describe()). */
  pot?: SitePotential;
  lattice?: LatticeName;
  defect: DefectKind;
  /** Radius of the clamped reference ball. */
  refSize: number;
  /** Radius of the second ball for the truncation estimate (default refSize / 2; 0 skips the check). */
  checkRefSize?: number;
}

/** Estimated truncation error of the reference ball (P1 rates, see domain-study.ts for the three formulas). */
export interface ReferenceTruncation {
  checkRefSize: number;
  /** Differences between the two reference balls. */
  difference: { energyNorm: number; maxNorm: number; formationEnergy: number };
  /** Estimated error of the large ball itself. */
  estimate: { energyNorm: number; maxNorm: number; formationEnergy: number };
}

export interface ReferenceRecord {
  step: 'reference';
  inputs: { potential: string; params?: Record<string, number>; lattice: LatticeName; defect: DefectKind; refSize: number; checkRefSize: number; tol: number; solver: SolverName };
  pot: SitePotential;
  perfect: PerfectLattice;
  lattice: Lattice;
  e0: number;
  relaxation: DefectRelaxation;
  truncation: ReferenceTruncation | null;
  /** True when this record came from the cache (wallTimeSeconds is then the original cost). */
  cached: boolean;
  wallTimeSeconds: number;
}

const referenceCache = new Map<string, ReferenceRecord>();

/** Forget every cached reference relaxation (tests; long-running processes). */
export function clearPipelineCaches(): void {
  referenceCache.clear();
  trainingCellCache.clear();
}

function potIdentity(o: { potential?: string; params?: Record<string, number>; pot?: SitePotential }): string {
  if (o.pot) return JSON.stringify(o.pot.describe());
  return `${o.potential ?? 'eam-2d'}:${JSON.stringify(o.params ?? {})}`;
}

/**
 * Reference relaxation, cached per (potential, lattice, defect, refSize, checkRefSize, tol): every point of a study
 * that shares the reference reuses it.
 */
export function referenceStep(o: ReferenceOptions): ReferenceRecord {
  const t0 = performance.now();
  const potName = o.potential ?? (o.pot ? o.pot.name : 'eam-2d');
  const latticeName: LatticeName = o.lattice ?? POTENTIALS[potName]?.lattice ?? 'triangular';
  requireParam('refSize', o.refSize, (v) => v > 0, '> 0');
  const checkRef = o.checkRefSize ?? o.refSize / 2;
  requireParam('checkRefSize', checkRef, (v) => v >= 0 && v < o.refSize, `>= 0 and < refSize ${o.refSize}`);
  const tol = o.tol ?? 1e-10;
  const solver = o.solver ?? 'auto';
  const key = [potIdentity(o), latticeName, o.defect, o.refSize, checkRef, tol, solver].join('|');
  const hit = referenceCache.get(key);
  if (hit) return { ...hit, cached: true };
  const pot = o.pot ?? makePotential(potName, o.params);
  const perfect = equilibriumLattice(pot, latticeName);
  const lattice = perfect.lattice;
  const e0 = perfect.e0;
  const ropts = { solver, tol, maxIterations: o.maxIterations, timeLimitSeconds: o.timeLimitSeconds, e0 };
  const relaxation = relaxDefect(pot, makeDomain(lattice, o.defect, 'ball', o.refSize, pot.cutoff), ropts);
  let truncation: ReferenceTruncation | null = null;
  if (checkRef > 0) {
    const r2 = relaxDefect(pot, makeDomain(lattice, o.defect, 'ball', checkRef, pot.cutoff), ropts);
    const e = displacementErrors(r2.field, relaxation.field, defectNeighbourGraph(lattice, o.defect));
    const diff = {
      energyNorm: e.energyNorm,
      maxNorm: e.maxNorm,
      formationEnergy: formationEnergyError(r2.formationEnergyExact, relaxation.formationEnergyExact),
    };
    const ratio = o.refSize / checkRef;
    const d = lattice.dim;
    // Same estimates as the P1 study: Galerkin orthogonality for the energy norm, clamp-local max norm, aligned E_f.
    truncation = {
      checkRefSize: checkRef,
      difference: diff,
      estimate: {
        energyNorm: diff.energyNorm / Math.sqrt(ratio ** d - 1),
        maxNorm: diff.maxNorm / ratio ** Math.max(d - 1, 1),
        formationEnergy: diff.formationEnergy / (ratio ** d - 1),
      },
    };
  }
  const rec: ReferenceRecord = {
    step: 'reference',
    inputs: { potential: potName, params: o.params, lattice: latticeName, defect: o.defect, refSize: o.refSize, checkRefSize: checkRef, tol, solver },
    pot,
    perfect,
    lattice,
    e0,
    relaxation,
    truncation,
    cached: false,
    wallTimeSeconds: (performance.now() - t0) / 1000,
  };
  referenceCache.set(key, rec);
  return rec;
}

// ---------------------------------------------------------------- training set

export interface TrainingOptions {
  /** Side of the periodic training cell. */
  rDom: number;
  /** Observation set, e.g. 'E+F' (default 'E+F+V'). */
  observations?: string | readonly ObservationKind[];
  /** Rattled copies of the relaxed defect cell (default 4). */
  rattled?: number;
  /** Rattle standard deviation in units of r0 (default 0.03). */
  rattleAmplitude?: number;
  /** Base seed of the rattles (default 1). */
  seed?: number;
  /** Strain amplitude of the strained perfect cells (V only; default 0.01). */
  strain?: number;
  /** Per-role configuration weights (multiplicities), fixed across R_dom so the fit compromise does not drift. */
  roleWeights?: Partial<Record<TrainingRole, number>>;
  /**
   * Drop these roles from the set after generation (e.g. ['strained-perfect', 'perfect'] trains on defect cells
   * only, so the MLIP's far field is learned from the defect cell alone).
   */
  excludeRoles?: readonly TrainingRole[];
  /** Largest cutoff the fitted model will have (cells must carry it); default the reference's. */
  cutoff?: number;
  /** Perfect-lattice cells: 'by-kind' (default; strained with V, FC cell with FC) or 'always' (see generate.ts). */
  perfectCells?: 'by-kind' | 'always';
}

export interface TrainingRecord {
  step: 'training';
  inputs: Omit<TrainingOptions, 'observations'> & { observations: string };
  set: TrainingSet;
  /** Configurations per role, atoms per role. */
  composition: Record<string, { configs: number; atoms: number; weight: number }>;
  seeds: number[];
  /** Relaxation of the training defect cell (cached per R_dom): residual and iterations. */
  cellRelaxation: { atoms: number; maxForce: number; iterations: number; cached: boolean };
  wallTimeSeconds: number;
}

const trainingCellCache = new Map<string, { structure: Structure; maxForce: number; iterations: number }>();

/** Training set at R_dom for the reference's defect; the reference-relaxed cell is cached per R_dom. */
export async function trainingStep(ref: ReferenceRecord, o: TrainingOptions): Promise<TrainingRecord> {
  const t0 = performance.now();
  requireParam('rDom', o.rDom, (v) => v > 0, '> 0');
  const cutoff = Math.max(ref.pot.cutoff, o.cutoff ?? 0);
  const dom = periodicDomain(ref.lattice, ref.inputs.defect, o.rDom, cutoff);
  // Keyed by the reference potential's own description (parameters included): two references built from ready-made
  // potentials with the same name but other parameters must not share a relaxed cell.
  const key = [JSON.stringify(ref.pot.describe()), ref.lattice.r0, ref.inputs.defect, dom.repetitions!.join('x'), ref.inputs.tol].join('|');
  let cell = trainingCellCache.get(key);
  const cached = !!cell;
  if (!cell) {
    const r = relax(ref.pot, dom.structure, null, { solver: ref.inputs.solver, tol: ref.inputs.tol });
    cell = { structure: r.structure, maxForce: r.maxForce, iterations: r.iterations };
    trainingCellCache.set(key, cell);
  }
  const obs = o.observations ?? 'E+F+V';
  const set = await generateTrainingSet({
    reference: ref.pot,
    lattice: ref.lattice,
    defect: ref.inputs.defect,
    rDom: o.rDom,
    observations: obs,
    rattled: o.rattled,
    rattleAmplitude: o.rattleAmplitude,
    seed: o.seed,
    strain: o.strain,
    cutoff,
    relaxed: cell.structure,
    roleWeights: o.roleWeights,
    perfectCells: o.perfectCells,
  });
  if (o.excludeRoles?.length) {
    set.configs = set.configs.filter((c) => !o.excludeRoles!.includes(c.role as TrainingRole));
    set.meta = { ...set.meta, excludedRoles: [...o.excludeRoles] };
  }
  const composition: TrainingRecord['composition'] = {};
  for (const c of set.configs) {
    const e = (composition[c.role] ??= { configs: 0, atoms: 0, weight: c.weight });
    e.configs++;
    e.atoms += c.structure.positions.length / c.structure.dim;
  }
  return {
    step: 'training',
    inputs: { ...o, observations: typeof obs === 'string' ? obs : obs.join('+') },
    set,
    composition,
    seeds: set.configs.filter((c) => c.seed !== undefined).map((c) => c.seed!),
    cellRelaxation: { atoms: dom.keys.length, maxForce: cell.maxForce, iterations: cell.iterations, cached },
    wallTimeSeconds: (performance.now() - t0) / 1000,
  };
}

// ---------------------------------------------------------------- fit

export interface FitOptions {
  /** Default: new LinearTrainer() (linear least squares with the smoothness prior). */
  trainer?: Trainer;
}

export interface FitRecord {
  step: 'fit';
  inputs: { trainer: string; observations: string; configurations: number };
  model: TrainedModel;
  wallTimeSeconds: number;
}

export async function fitStep(training: TrainingRecord, o: FitOptions = {}): Promise<FitRecord> {
  const t0 = performance.now();
  const trainer = o.trainer ?? new LinearTrainer();
  const model = await trainer.train(training.set);
  return {
    step: 'fit',
    inputs: { trainer: trainer.name, observations: training.set.observations.join('+'), configurations: training.set.configs.length },
    model,
    wallTimeSeconds: (performance.now() - t0) / 1000,
  };
}

/**
 * Fine-tuning towards a prior potential: the inner trainer fits the difference between the reference observations
 * and the prior's (E, F, V, FC of every configuration), and the model is prior + fitted correction. With a smoothness
 * prior on the correction, whatever the data leave free stays at the prior's behaviour; a prior that is wrong in the
 * far field (other elastic constants) is how the training-size study exposes the R_dom rate.
 */
export class DeltaTrainer implements Trainer {
  readonly name: string;
  constructor(
    readonly prior: SitePotential,
    readonly inner: Trainer = new LinearTrainer(),
  ) {
    this.name = `${inner.name}+prior(${prior.name})`;
  }
  async train(set: TrainingSet): Promise<TrainedModel> {
    const configs = set.configs.map((c) => {
      const p = observe(this.prior, c.structure, {
        energy: c.energy !== undefined,
        forces: c.forces !== undefined,
        virial: c.virial !== undefined,
        fcAtom: c.forceConstants?.atom,
      });
      const sub = (a: Float64Array | undefined, b: Float64Array | undefined) => (a && b ? a.map((v, i) => v - b[i]) : a);
      return {
        ...c,
        energy: c.energy !== undefined ? c.energy - p.energy! : undefined,
        forces: sub(c.forces, p.forces),
        virial: sub(c.virial, p.virial),
        forceConstants: c.forceConstants
          ? { atom: c.forceConstants.atom, columns: c.forceConstants.columns.map((col, b) => sub(col, p.forceConstants!.columns[b])!) }
          : undefined,
      };
    });
    const m = await this.inner.train({ ...set, configs });
    return { potential: perturb(this.prior, m.potential, 1), report: { ...m.report, prior: this.prior.describe() } };
  }
}

// ---------------------------------------------------------------- MLIP relaxation

export interface MlipRelaxRecord {
  step: 'mlip-relax';
  inputs: { refSize: number; tol: number; solver: SolverName; start: MlipStart };
  relaxation: DefectRelaxation;
  /** The MLIP's own perfect-lattice energy per site on the reference lattice (used for its E_f). */
  e0: number;
  /** Largest |virial| per atom of the MLIP's perfect lattice at the reference r0 (a stress mismatch, not zero in general). */
  latticeStress: number;
  wallTimeSeconds: number;
}

/**
 * Where an MLIP relaxation starts: the unrelaxed reference lattice (default), or the reference minimum ū itself (the
 * branch start of THEORY.md section 3, for a relaxation from the lattice that ended in another basin).
 */
export type MlipStart = 'reference lattice' | 'reference minimum';

/**
 * Relax the defect with the MLIP in the reference's large ball, by default from the unrelaxed reference lattice (the
 * domain's own lattice positions), so that the result does not lean on the reference answer; `start: 'reference
 * minimum'` starts from ū instead (same minimum when the MLIP has a strongly stable one near ū, which is what the
 * theory assumes). The MLIP formation energy subtracts the MLIP's own perfect-lattice energy per site
 * (perfectLatticeEnergy of the MLIP on the same lattice).
 */
export function mlipRelaxStep(ref: ReferenceRecord, fit: FitRecord | SitePotential, o: RelaxSettings & { start?: MlipStart } = {}): MlipRelaxRecord {
  const t0 = performance.now();
  const pot = 'step' in fit ? fit.model.potential : fit;
  const tol = o.tol ?? ref.inputs.tol;
  const solver = o.solver ?? ref.inputs.solver;
  const dom = makeDomain(ref.lattice, ref.inputs.defect, 'ball', ref.inputs.refSize, Math.max(pot.cutoff, ref.pot.cutoff));
  const e0 = perfectLatticeEnergy(pot, ref.lattice);
  const ropts = { solver, tol, maxIterations: o.maxIterations, timeLimitSeconds: o.timeLimitSeconds, e0 };
  const start = o.start ?? 'reference lattice';
  const relaxation =
    start === 'reference minimum' ? relaxFrom(pot, dom, transferField(ref.relaxation.field, dom), ropts) : relaxDefect(pot, dom, ropts);
  const small = smallestPerfectCell(ref.lattice, pot.cutoff);
  const w = evaluate(pot, small.structure).virial;
  const latticeStress = Math.max(...Array.from(w, Math.abs)) / small.keys.length;
  return {
    step: 'mlip-relax',
    inputs: { refSize: ref.inputs.refSize, tol, solver, start },
    relaxation,
    e0,
    latticeStress,
    wallTimeSeconds: (performance.now() - t0) / 1000,
  };
}

// ---------------------------------------------------------------- errors

export interface ErrorRecord {
  step: 'errors';
  energyNorm: number;
  maxNorm: number;
  formationEnergy: number;
  /** E_f of the MLIP and of the reference (decimal strings). */
  formationEnergies: { mlip: string; reference: string };
  comparison: Pick<DisplacementErrors, 'sites' | 'bonds'>;
  /** The reference's own truncation estimate, beside the errors (null when not checked). */
  referenceTruncation: ReferenceTruncation['estimate'] | null;
  /** True when every error is at least 3x the reference truncation estimate of the same measure. */
  referenceAdequate: boolean | null;
  wallTimeSeconds: number;
}

export function errorStep(ref: ReferenceRecord, m: MlipRelaxRecord): ErrorRecord {
  const t0 = performance.now();
  if (m.relaxation.domain.size !== ref.relaxation.domain.size || m.relaxation.domain.defect !== ref.relaxation.domain.defect) {
    throw new ParameterError('the MLIP relaxation is not in the reference domain (other radius or defect)');
  }
  const e = displacementErrors(m.relaxation.field, ref.relaxation.field, defectNeighbourGraph(ref.lattice, ref.inputs.defect));
  const ef = formationEnergyError(m.relaxation.formationEnergyExact, ref.relaxation.formationEnergyExact);
  const est = ref.truncation?.estimate ?? null;
  return {
    step: 'errors',
    energyNorm: e.energyNorm,
    maxNorm: e.maxNorm,
    formationEnergy: ef,
    formationEnergies: { mlip: m.relaxation.formationEnergyExact, reference: ref.relaxation.formationEnergyExact },
    comparison: { sites: e.sites, bonds: e.bonds },
    referenceTruncation: est,
    referenceAdequate: est ? est.energyNorm * 3 <= e.energyNorm && est.maxNorm * 3 <= e.maxNorm && est.formationEnergy * 3 <= ef : null,
    wallTimeSeconds: (performance.now() - t0) / 1000,
  };
}
