import { makeDomain, type DefectKind, type Domain } from '../lattice/domain.ts';
import type { LatticeName } from '../lattice/lattice.ts';
import { perturb } from '../potentials/combine.ts';
import { makePotential, POTENTIALS } from '../potentials/defaults.ts';
import { EAMPotential } from '../potentials/eam.ts';
import { equilibriumLattice } from '../potentials/equilibrium.ts';
import { evaluate } from '../potentials/evaluate.ts';
import { ExpDensity, MorseRadial, QuadraticEmbedding } from '../potentials/radial.ts';
import type { SitePotential } from '../potentials/types.ts';
import { perfectLatticeEnergy, relaxDefect, type DefectRelaxation } from '../relax/defect.ts';
import { strongStability } from '../relax/stability.ts';
import { finiteDifferenceHessian } from '../relax/fd-hessian.ts';
import { applyAssumptions, basinChange, branchEvidence, relaxFrom, stabilityNote, stabilityRecord, type BasinCheck } from './branch.ts';
import { SOLVER_NAMES, type SolverName } from '../relax/types.ts';
import { HP } from '../util/decimal.ts';
import { ParameterError, requireParam } from '../util/errors.ts';
import { defectNeighbourGraph, displacementErrors, formationEnergyError, type SiteField } from './errors.ts';
import { freeForces, solveHessian } from './linear-response.ts';
import { combineVerdicts, fitRate } from './rate.ts';
import type { StudyContext, StudyDefinition, StudyMode } from './registry.ts';
import type { RateFit, StudyPoint, StudyResult, Verdict } from './types.ts';
import { SETUP_OPTIONS_SCHEMA } from './schema-parts.ts';
import { runOnPotential, type StudyPotentialOptions } from './study-potential.ts';

/**
 * P2, perturbation of the potential (THEORY.md section 3, docs/theory.md P2): V^H = V + t W with W smooth, local and
 * not proportional to V. The implicit function theorem gives a smooth branch ū_t = ū + t u1 + O(t²) with
 * u1 = -(δ²E(ū))^{-1} δE_W(ū), so every error is t times a constant plus O(t²) (slope 1) and the linearisation
 * remainders ||D(ū_t - ū - t u1)|| / t and |E_f(t) - E_f(0) - t E_f'(0)| / t are O(t) (slope 1 again). All five are
 * sharp rates, judged by |p - 1| <= 0.25.
 *
 * Lattice: both relaxations use the same clamped ball on V's own stress-free lattice ('base', the default). Then
 * t -> E_t is a smooth family of energies on ONE fixed space of displacements, which is exactly the setting of the
 * implicit function theorem, u1 is computable from the Hessian and W's forces at ū, and E_f'(0) is the
 * Hellmann-Feynman derivative sum_l (W_l(ȳ) - e0_W). V + tW's lattice is stressed by O(t) there (the perfect lattice
 * is still an equilibrium of every Bravais-lattice site energy, by inversion symmetry), and E_f(t) uses the
 * perfect-lattice energy e0(t) of V + tW on that same lattice. Option 'perturbed' re-equilibrates instead: the ball is
 * built on V + tW's own stress-free lattice (its radius scaled with r0(t), so the site keys are the same) and E_f
 * uses that lattice's e0(t). The lattice constant is itself a smooth function of t (a root of the pressure, simple
 * by stability), so the errors keep slope 1, but u1 then gains the response to the homogeneous rescaling, which the
 * fixed-lattice Hessian solve does not contain: the remainders are measured in 'base' mode only.
 *
 * Resolution: the remainder at small t is a difference of nearly equal relaxed fields, so a solver residual that
 * is harmless for P1 can dominate it. Each relaxation's own error is estimated a posteriori as ||D H^{-1} F_res||
 * (one Newton step from the returned state), and every remainder point must exceed 10x the sum of those estimates
 * (divided by t); otherwise the study fails and says to tighten --tol or raise the smallest t.
 */

export interface PerturbationParams {
  /** Pair Morse depth, stiffness and minimum; density decay; embedding curvature and reference density. */
  D?: number;
  alpha?: number;
  r0?: number;
  beta?: number;
  C?: number;
  rho1?: number;
}

/**
 * The default perturbation W: an EAM term with the base potential's cutoff (rin, rc) but other shapes (a softer,
 * longer Morse pair with its minimum beyond the nearest neighbours, a slower density, its own embedding), so that W
 * is not a multiple of V and changes the lattice constant, the elastic constants and the core alike.
 */
export function defaultPerturbation(base: SitePotential, p: PerturbationParams = {}): EAMPotential {
  const d = base.describe();
  const pair = (d.pair ?? {}) as Record<string, unknown>;
  const rc = typeof pair.rc === 'number' ? pair.rc : base.cutoff;
  const rin = typeof pair.rin === 'number' ? pair.rin : 0.76 * rc;
  return new EAMPotential(
    'perturbation-w',
    new MorseRadial(p.D ?? 0.3, p.alpha ?? 2.5, p.r0 ?? 1.2, rin, rc),
    new ExpDensity(p.beta ?? 1.5, 1, rin, rc),
    new QuadraticEmbedding(p.C ?? 0.03, p.rho1 ?? 5),
  );
}

/** Nearest-neighbour coordination of each lattice (for the bond energy |e0| / (z / 2)). */
const COORDINATION: Record<LatticeName, number> = { triangular: 6, square: 4, fcc: 12, bcc: 8 };

/**
 * The default W for ANY potential (a LAMMPS file in Angstrom and eV, an engine): the same EAM-form shapes as
 * defaultPerturbation, with lengths in units of the base lattice's nearest-neighbour distance r0 and energies in
 * units of its bond energy |e0| / (z / 2) (z nearest neighbours), cut off smoothly between 0.76 rc and the base
 * potential's cutoff rc. So W has the size and range of one more bond-level term whatever the units, changes the
 * lattice constant, the elastic constants and the core, and is not a multiple of V. In reduced units (r0 = 1,
 * bond energy 1) it coincides with defaultPerturbation's shapes.
 */
export function scaledPerturbation(
  base: SitePotential,
  lattice: { name: LatticeName; r0: number },
  e0: number,
  p: PerturbationParams = {},
): EAMPotential {
  const z = COORDINATION[lattice.name];
  const eps = Math.abs(e0) / (z / 2);
  requireParam('bond energy |e0| / (z/2) of the base lattice', eps, (v) => v > 0 && Number.isFinite(v), '> 0');
  const a = lattice.r0;
  const rc = base.cutoff;
  const rin = 0.76 * rc;
  return new EAMPotential(
    'perturbation-w(scaled)',
    new MorseRadial((p.D ?? 0.3) * eps, (p.alpha ?? 2.5) / a, (p.r0 ?? 1.2) * a, rin, rc),
    new ExpDensity((p.beta ?? 1.5) / a, a, rin, rc),
    new QuadraticEmbedding((p.C ?? 0.03) * eps, p.rho1 ?? 5),
  );
}

/**
 * P2 ball radius for a real metal (Angstrom): about 2 cutoffs. Measured (Cu_u3.eam, rc = 4.95 A, fcc vacancy,
 * radius 10 A = 2,778 atoms, t = 1e-4 .. 1e-1 (7 points), scaledPerturbation W): slopes 0.970 / 0.967 / 1.002 and
 * remainders 0.960 / 0.966, all pass, gamma/mu = 0.25, largest branch shift 4.2e-3 A; 400 s on 2 cores at load 24.
 */
export function realMetalPerturbationRadius(cutoff: number): number {
  requireParam('cutoff', cutoff, (v) => v > 0, '> 0');
  return Number((2.02 * cutoff).toPrecision(3));
}

export const PERTURBATION_LATTICES = ['base', 'perturbed'] as const;
export type PerturbationLattice = (typeof PERTURBATION_LATTICES)[number];

export interface PerturbationStudyOptions {
  /** Base potential V (POTENTIALS name; ignored when `pot` is given). Default 'eam-2d'. */
  potential?: string;
  params?: Record<string, number>;
  pot?: SitePotential;
  /** Perturbation W (default defaultPerturbation(V, perturbationParams)). */
  perturbation?: SitePotential;
  perturbationParams?: PerturbationParams;
  lattice?: LatticeName;
  defect: DefectKind;
  /** Radius of the clamped ball both relaxations share. */
  radius: number;
  /** Perturbation sizes t > 0, ideally geometric over several decades. */
  ts: number[];
  /** Which lattice V + tW is relaxed on (see the module comment). Default 'base'. */
  latticeMode?: PerturbationLattice;
  solver?: SolverName;
  /** max|F| of every relaxation (default 1e-12: the remainders at small t need it, see the module comment). */
  tol?: number;
  maxIterations?: number;
  /** Relative residual of the Hessian solves (u1 and the solver-error estimates); default 1e-12. */
  cgTol?: number;
  /** A remainder point must exceed this multiple of its solver-error estimate (default 10). */
  resolutionFactor?: number;
  /** Basin-change threshold: an atom farther than this fraction of r0 from the linear prediction ū + t u1 means the
   * relaxation left the reference branch (default BASIN_JUMP_FRACTION = 0.25). */
  basinFraction?: number;
  /** Margin on γ/μ for a strongly stable minimum (default STABILITY_MARGIN, src/relax/stability.ts). */
  stabilityMargin?: number;
  /** Initial guess of the nearest-neighbour distance for the stress-free lattice search (default 1, reduced units;
   * about the potential's r0 for a potential in Angstrom, e.g. 2.5 for Cu). */
  r0Guess?: number;
  tolerance?: number;
  progress?: (msg: string) => void;
}

export const P2_MEASURES = ['energyNorm', 'maxNorm', 'formationEnergy', 'remainder', 'formationEnergyRemainder'] as const;

/** Energy norm of a displacement vector on a clamped ball (extension by zero), via the stable site keys. */
function energyNormOf(dom: Domain, u: Float64Array, graph: ReturnType<typeof defectNeighbourGraph>): number {
  const zero: SiteField = { dim: dom.lattice.dim, keys: [], u: new Float64Array(0), extension: 'zero' };
  return displacementErrors({ dim: dom.lattice.dim, keys: dom.keys, u, extension: 'zero' }, zero, graph).energyNorm;
}

export function perturbationStudy(o: PerturbationStudyOptions): StudyResult {
  const t0 = performance.now();
  const log = o.progress ?? (() => {});
  const potName = o.potential ?? (o.pot ? o.pot.name : 'eam-2d');
  const V = o.pot ?? makePotential(potName, o.params);
  const latticeName: LatticeName = o.lattice ?? POTENTIALS[potName]?.lattice ?? 'triangular';
  const perfect = equilibriumLattice(V, latticeName, o.r0Guess ?? (V as SitePotential).lengthScale ?? 1);
  // Built-in reduced-unit potentials keep their historical W; any other potential gets W scaled to its own lattice
  // and bond energy (scaledPerturbation), so that t means the same relative size in Angstrom/eV as in reduced units.
  const W =
    o.perturbation ??
    (POTENTIALS[potName]
      ? defaultPerturbation(V, o.perturbationParams)
      : scaledPerturbation(V, perfect.lattice, perfect.e0, o.perturbationParams));
  const mode: PerturbationLattice = o.latticeMode ?? 'base';
  if (!PERTURBATION_LATTICES.includes(mode)) {
    throw new ParameterError(`latticeMode '${mode as string}' is not one of: ${PERTURBATION_LATTICES.join(', ')}`);
  }
  if (o.ts.length < 3) throw new ParameterError(`perturbation study needs at least 3 values of t, got ${o.ts.length}`);
  for (const t of o.ts) requireParam('t (perturbation size)', t, (v) => v > 0 && v <= 1, 'in (0, 1]');
  requireParam('radius', o.radius, (v) => v > 0, '> 0');
  const tol = o.tol ?? 1e-12;
  const cgTol = o.cgTol ?? 1e-12;
  const resFactor = o.resolutionFactor ?? 10;
  const relaxOpts = { solver: o.solver ?? ('auto' as SolverName), tol, maxIterations: o.maxIterations };
  const ts = [...o.ts].sort((a, b) => a - b);
  const cutoff = Math.max(V.cutoff, W.cutoff);

  const lattice = perfect.lattice;
  const d = lattice.dim;
  const graph = defectNeighbourGraph(lattice, o.defect);
  const dom = makeDomain(lattice, o.defect, 'ball', o.radius, cutoff);

  /** ||D H^{-1} F_res||: the distance of a returned state from the exact equilibrium, to first order. */
  const solverError = (pot: SitePotential, r: DefectRelaxation): number => {
    const F = freeForces(pot, r.result.structure, r.domain.free);
    const s = solveHessian(pot, r.result.structure, r.domain.free, F, { relTol: 1e-6 });
    return energyNormOf(r.domain, s.x, graph);
  };
  const describeRelax = (r: DefectRelaxation) => ({
    atoms: r.domain.keys.length,
    iterations: r.result.iterations,
    maxForce: r.result.maxForce,
    formationEnergy: r.formationEnergyExact,
    stages: r.result.stages.map((s) => `${s.solver}:${s.iterations}`).join('+'),
  });

  log(`t = 0: ${o.defect} in a clamped ball R = ${o.radius} (${dom.keys.length} atoms, ${lattice.name}, ${potName})`);
  const r0 = relaxDefect(V, dom, { ...relaxOpts, e0: perfect.e0 });
  // An engine's products are differences of forces (2 engine calls each): 30 Lanczos steps on the well-conditioned
  // pencil (H, L), as P1 measures its reference, instead of the default 80.
  const st = strongStability(V, r0.result.structure, dom.free, { seed: 1, margin: o.stabilityMargin, iterations: finiteDifferenceHessian(V) ? 30 : undefined });
  log(`  lowest curvature gamma/mu = ${st.relative.toExponential(3)} (${st.verdict})`);
  const err0 = solverError(V, r0);

  // First-order response u1 = H^{-1} F_W(ū) and the Hellmann-Feynman derivative E_f'(0) = sum_mask (W_l(ȳ) - e0_W).
  const FW = freeForces(W, r0.result.structure, dom.free);
  const u1 = solveHessian(V, r0.result.structure, dom.free, FW, { relTol: cgTol });
  const u1Norm = energyNormOf(dom, u1.x, graph);
  const wSites = evaluate(W, r0.result.structure).siteEnergies!;
  const e0W = perfectLatticeEnergy(W, lattice);
  let dEf = new HP(0);
  let count = 0;
  for (let i = 0; i < dom.energyMask.length; i++) {
    if (!dom.energyMask[i]) continue;
    dEf = dEf.plus(wSites[i]);
    count++;
  }
  dEf = dEf.minus(new HP(e0W).mul(count));
  log(`  E_f = ${r0.formationEnergy}; ||D u1|| = ${u1Norm.toExponential(3)} (${u1.iterations} CG), E_f'(0) = ${dEf.toNumber().toExponential(4)}`);

  const points: StudyPoint[] = [];
  const resolution: Array<{ t: number; solverErrors: number; remainderNumerator: number; ok: boolean }> = [];
  const branch: Array<{ t: number } & BasinCheck> = [];
  // Continuation along the branch: each t starts from the previous point's relaxed field plus the tangent predictor
  // (t - t_prev) u1, never from the unrelaxed geometry (see src/convergence/branch.ts).
  let prevU = r0.displacement;
  let prevT = 0;
  for (const t of ts) {
    const Vt = perturb(V, W, t);
    let domT = dom;
    let e0t: number;
    let r0t = lattice.r0;
    if (mode === 'base') {
      e0t = perfectLatticeEnergy(Vt, lattice);
    } else {
      const pt = equilibriumLattice(Vt, latticeName, lattice.r0);
      r0t = pt.lattice.r0;
      e0t = pt.e0;
      domT = makeDomain(pt.lattice, o.defect, 'ball', o.radius * (r0t / lattice.r0), cutoff);
      if (domT.keys.length !== dom.keys.length || domT.keys.some((k, i) => k !== dom.keys[i])) {
        throw new ParameterError(
          `latticeMode 'perturbed': the rescaled ball at t = ${t} has other sites than the base ball; choose a radius away from a lattice shell`,
        );
      }
    }
    const start = new Float64Array(prevU.length);
    for (let k = 0; k < start.length; k++) start[k] = prevU[k] + (t - prevT) * u1.x[k];
    const rt = relaxFrom(Vt, domT, start, { ...relaxOpts, e0: e0t });
    // On the branch, u_t - (u_0 + t u1) is O(t^2): far below a bond-length fraction. In 'perturbed' mode the fields
    // are measured from each t's own rescaled lattice, so the same prediction applies.
    const pred = new Float64Array(rt.displacement.length);
    for (let k = 0; k < pred.length; k++) pred[k] = r0.displacement[k] + t * u1.x[k];
    const jump = basinChange(rt.displacement, pred, dom.keys, d, lattice.r0, { fraction: o.basinFraction });
    branch.push({ t, ...jump });
    if (!jump.jumped) {
      prevU = rt.displacement;
      prevT = t;
    }
    const e = displacementErrors(rt.field, r0.field, graph);
    const errors: Record<string, number> = {
      energyNorm: e.energyNorm,
      maxNorm: e.maxNorm,
      formationEnergy: formationEnergyError(rt.formationEnergyExact, r0.formationEnergyExact),
    };
    const info: Record<string, unknown> = {
      t,
      ...describeRelax(rt),
      latticeR0: r0t,
      e0: e0t,
      branchShift: jump.maxShift,
      leftBranch: jump.jumped,
    };
    if (mode === 'base') {
      const lin = new Float64Array(rt.displacement.length);
      for (let k = 0; k < lin.length; k++) lin[k] = rt.displacement[k] - r0.displacement[k] - t * u1.x[k];
      const num = energyNormOf(dom, lin, graph);
      errors.remainder = num / t;
      const efRem = new HP(rt.formationEnergyExact).minus(new HP(r0.formationEnergyExact)).minus(dEf.mul(t)).abs();
      errors.formationEnergyRemainder = efRem.div(t).toNumber();
      const errT = solverError(Vt, rt);
      // Rounding/solver budget of the remainder numerator: both relaxations' errors and t times the u1 solve's.
      const budget = errT + err0 + t * u1.relativeResidual * u1Norm;
      const ok = num >= resFactor * budget;
      resolution.push({ t, solverErrors: budget, remainderNumerator: num, ok });
      info.solverErrorEstimate = errT;
    }
    log(`t = ${t.toExponential(2)}: ` + Object.entries(errors).map(([k, v]) => `${k} ${v.toExponential(3)}`).join(', '));
    points.push({ x: t, errors, info });
  }

  const measures = mode === 'base' ? P2_MEASURES : P2_MEASURES.slice(0, 3);
  const tolerance = o.tolerance ?? 0.25;
  // Points off the branch are not evidence about P2 (the theorem says nothing about another minimum): they are left
  // out of every fit, and a fit that lost any of them is 'assumption fails' with the evidence, never pass or fail.
  const jumped = branch.filter((b) => b.jumped);
  const jumpIdx = new Set(points.map((p, i) => (p.info!.leftBranch ? i : -1)).filter((i) => i >= 0));
  const fits: RateFit[] = measures.map((m) => {
    const errs = points.map((p, i) => (jumpIdx.has(i) ? NaN : p.errors[m]));
    const f = fitRate(ts, errs, { measure: m, predicted: 1, kind: 'sharp', tolerance });
    for (const dp of f.dropped) {
      if (jumpIdx.has(dp.index)) dp.reason = `left the reference branch (${branchEvidence(branch[dp.index], lattice.r0)})`;
    }
    return applyAssumptions(f, jumped, st, o.defect, lattice.r0);
  });
  const verdicts: Verdict[] = fits.map((f) => f.verdict);
  const notes: string[] = [stabilityNote(st, o.defect, 't = 0 defect under V')];
  if (jumped.length) {
    notes.push(
      `the relaxation left the branch of the reference minimum at t = ${jumped.map((b) => b.t.toExponential(1)).join(', ')} ` +
        `(${jumped.map((b) => branchEvidence(b, lattice.r0)).join('; ')}), although it started from the previous point of ` +
        'the branch: the implicit-function-theorem branch does not reach there, so those points are not evidence for or against P2',
    );
  } else {
    notes.push(
      `every relaxation stayed on the reference branch: largest atom shift from the linear prediction u0 + t u1 ` +
        `${Math.max(...branch.map((b) => b.maxShift)).toExponential(2)} (basin-change threshold ${branch[0]?.threshold.toExponential(2)} = ` +
        `${branch[0]?.fraction} r0); each t started from the previous point plus the tangent (continuation)`,
    );
  }
  const unresolved = resolution.filter((x) => !x.ok);
  if (unresolved.length) {
    verdicts.push('fail');
    notes.push(
      `the linearisation remainder is not resolved at t = ${unresolved.map((x) => x.t.toExponential(1)).join(', ')}: ` +
        `its numerator is below ${resFactor}x the estimated solver error (${unresolved
          .map((x) => `${x.remainderNumerator.toExponential(2)} vs ${x.solverErrors.toExponential(2)}`)
          .join('; ')}); tighten --tol or raise the smallest t`,
    );
  } else if (resolution.length) {
    const worst = Math.max(...resolution.map((x) => x.solverErrors / x.remainderNumerator));
    notes.push(
      `remainder resolution: the estimated solver error (||D H^{-1} F_res|| of both relaxations + t x the u1 solve's) ` +
        `is at most ${worst.toExponential(2)} of the remainder numerator ||D(u_t - u_0 - t u1)|| (required <= ${1 / resFactor})`,
    );
  }
  const maxResidual = Math.max(r0.result.maxForce, ...points.map((p) => p.info!.maxForce as number));
  notes.push(
    `all relaxations converged to max|F| <= ${tol} (largest residual ${maxResidual.toExponential(2)}); ` +
      `u1 from ${u1.iterations} preconditioned CG iterations, relative residual ${u1.relativeResidual.toExponential(2)}`,
    mode === 'base'
      ? `V + tW is relaxed on V's stress-free lattice (r0 = ${lattice.r0}); E_f(t) subtracts the perfect-lattice energy of V + tW on that lattice`
      : `V + tW is relaxed on its own stress-free lattice (ball radius scaled with r0(t), same sites); E_f(t) subtracts that lattice's e0(t); remainders need the fixed-lattice u1 and are not measured in this mode`,
    'both relaxations share one clamped ball, so the ball truncation changes the constants e1, not the rates',
  );
  return {
    study: 'perturbation',
    label: `${o.defect} ball R=${o.radius} ${lattice.name} ${potName} + t ${W.name} (${mode} lattice)`,
    dimension: d,
    xLabel: 'perturbation size t',
    points,
    fits,
    // An unstable or weakly stable reference: no measurement here is evidence about P2 (the resolution check included).
    verdict: st.verdict !== 'strongly stable' || jumped.length ? 'assumption fails' : combineVerdicts(verdicts),
    dropRule:
      'none: P2 has no pre-asymptotic range beyond the linear regime and no fit floor; every t is fitted (non-positive ' +
      'errors cannot be fitted and would be listed). Remainder points below the solver resolution fail the study instead of being dropped',
    settings: {
      lattice: lattice.name,
      r0: lattice.r0,
      e0: perfect.e0,
      potential: V.describe(),
      potentialName: potName,
      perturbation: W.describe(),
      latticeMode: mode,
      defect: o.defect,
      radius: o.radius,
      ts,
      reference: { ...describeRelax(r0), solverErrorEstimate: err0 },
      stability: { ...stabilityRecord(st), products: st.products },
      branch: branch.map((b) => ({ t: b.t, maxShift: b.maxShift, atom: b.atom, threshold: b.threshold, leftBranch: b.jumped })),
      linearResponse: {
        u1EnergyNorm: u1Norm,
        cgIterations: u1.iterations,
        relativeResidual: u1.relativeResidual,
        formationEnergyDerivative: dEf.toString(),
        e0W,
      },
      resolution,
      solver: relaxOpts.solver,
      tol,
      cgTol,
      maxIterations: o.maxIterations ?? null,
      tolerance,
    },
    seeds: [1],
    wallTimeSeconds: (performance.now() - t0) / 1000,
    notes,
  };
}

const geometric = (lo: number, hi: number, n: number): number[] =>
  Array.from({ length: n }, (_, i) => Number((lo * (hi / lo) ** (i / (n - 1))).toPrecision(3)));

/** Registry entry (see registry.ts): the P2 study driven by a configuration object. */
export const definition: StudyDefinition = {
  name: 'perturbation',
  predictions: 'P2',
  summary: 'V + tW relaxed in one clamped ball: errors and linearisation remainders against t, all slope 1 (sharp)',
  optionsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      ...SETUP_OPTIONS_SCHEMA,
      perturbationParams: {
        type: 'object',
        additionalProperties: false,
        properties: Object.fromEntries(['D', 'alpha', 'r0', 'beta', 'C', 'rho1'].map((k) => [k, { type: 'number', exclusiveMinimum: 0 }])),
      },
      radius: { type: 'number', exclusiveMinimum: 0 },
      ts: { type: 'array', minItems: 3, items: { type: 'number', exclusiveMinimum: 0, maximum: 1 } },
      latticeMode: { enum: [...PERTURBATION_LATTICES] },
      solver: { enum: [...SOLVER_NAMES] },
      tol: { type: 'number', exclusiveMinimum: 0, maximum: 1e-6 },
      maxIterations: { type: 'integer', minimum: 1 },
      cgTol: { type: 'number', exclusiveMinimum: 0, maximum: 1e-6 },
      resolutionFactor: { type: 'number', minimum: 1 },
      basinFraction: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
      stabilityMargin: { type: 'number', minimum: 0 },
      r0Guess: { type: 'number', exclusiveMinimum: 0 },
      tolerance: { type: 'number', exclusiveMinimum: 0 },
    },
  },
  defaults(mode: StudyMode) {
    const base = { potential: 'eam-2d', defect: 'vacancy', solver: 'auto', tol: 1e-12, latticeMode: 'base' };
    if (mode === 'quick') return { ...base, radius: 10, ts: geometric(1e-4, 1e-1, 4) };
    if (mode === 'thorough') return { ...base, radius: 24, ts: geometric(1e-4, 1e-1, 10) };
    return { ...base, radius: 16, ts: geometric(1e-4, 1e-1, 7) };
  },
  async run(options, ctx: StudyContext) {
    return runOnPotential(options as StudyPotentialOptions, (s) => [perturbationStudy({ ...(options as unknown as PerturbationStudyOptions), ...s, progress: ctx.progress })]);
  },
};
