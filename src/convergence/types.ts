/**
 * The shape every convergence study returns (domain P1, perturbation P2, fit-accuracy P3, training-size P4-P6), and
 * what reports render. Keep it JSON-serialisable: `--json` prints it and report.json embeds it.
 */

/**
 * 'pass' | 'fail': a sharp rate or a bound was judged. 'observed' | 'not observed': a hypothesis (P5, P6) was judged;
 * neither is a pass or a failure of the theory. 'at floor': the effect is not resolved above the fit accuracy.
 * 'assumption fails': the theory's hypotheses do not hold where measured (the relaxation left the reference minimum's
 * branch, or the minimum is not strongly stable), so the prediction does not apply there: never a pass or a plain fail.
 */
export type Verdict = 'pass' | 'fail' | 'observed' | 'not observed' | 'at floor' | 'assumption fails';

/** How an observed slope is judged: a sharp rate |p - p_pred| <= tol, or an upper bound p <= p_pred + tol for
 * decaying errors (error falls at least as fast as predicted; slopes are negative for decay). */
export type PredictionKind = 'sharp' | 'bound';

export interface RateFit {
  /** Error measure this slope is for, e.g. 'energyNorm', 'maxNorm', 'formationEnergy'. */
  measure: string;
  /** Least-squares slope p of log(error) = a + p log(x). */
  slope: number;
  /** Standard error of p (NaN with fewer than 3 points used). */
  stderr: number;
  intercept: number;
  /** 95% confidence band of the slope (Student t with n-2 degrees of freedom). */
  ci95: [number, number];
  /** Smallest and largest x used in the fit. */
  range: [number, number];
  pointsUsed: number;
  /** Indices (into the study's points) left out, each with the rule that dropped it. */
  dropped: Array<{ index: number; reason: string }>;
  predicted: number;
  kind: PredictionKind;
  tolerance: number;
  verdict: Verdict;
  /** One sentence: predicted vs observed and why the verdict. */
  explanation: string;
}

export interface StudyPoint {
  /** The abscissa: R, t, training residual, R_dom. */
  x: number;
  /** Error measures at this point, keyed like RateFit.measure. */
  errors: Record<string, number>;
  /** Anything else worth showing per point (solver iterations and residuals, atom counts, timings). */
  info?: Record<string, unknown>;
  /** Whether the theory's hypotheses were checked and hold at this point, with the evidence (studies that check). */
  assumption?: PointAssumption;
}

/**
 * The theory's hypothesis at one point, measured (THEORY.md section 3: a strongly stable minimum ū, and the model's
 * minimum near it). A point where it fails is not evidence for or against a rate: it is left out of the fits, and a
 * fit left with too few points says 'assumption fails'.
 */
export interface PointAssumption {
  holds: boolean;
  /** One phrase with the numbers: why it holds or what failed. */
  evidence: string;
  /**
   * Lowest curvature against ||Dv||^2 (Lanczos on the pencil (H, L), src/relax/stability.ts) of the model's Hessian at
   * the reference minimum ū, and the reference's own in the same ball by the same test.
   */
  stability?: {
    gamma: number;
    mu: number;
    relative: number;
    margin: number;
    verdict: 'strongly stable' | 'weakly stable' | 'unstable';
    residual: number;
    lanczosSteps: number;
    gammaReference: number;
    /** The reference's own verdict and gamma/mu by the same test (the theory needs ū strongly stable first). */
    referenceVerdict: 'strongly stable' | 'weakly stable' | 'unstable';
    referenceRelative: number;
    /** gamma / gammaReference. */
    ratio: number;
    /** Radius of the clamped ball around the defect in which both were measured. */
    ballRadius: number;
  };
  /** Basin check of the relaxed model minimum: largest atom distance from ū, its threshold, and where it started. */
  basin?: { maxShift: number; threshold: number; jumped: boolean; start: string };
}

export interface StudyResult {
  study: 'domain' | 'perturbation' | 'fit-accuracy' | 'training-size' | 'worst-case';
  /** Distinguishes several results of one study, e.g. the observation set 'E+F+V' or the defect. */
  label: string;
  dimension: number;
  /** Name of the abscissa for tables and plots. */
  xLabel: string;
  points: StudyPoint[];
  fits: RateFit[];
  /** Overall verdict: 'fail' if any sharp fit fails, etc. (see combineVerdicts). */
  verdict: Verdict;
  /** The explicit rules applied to drop points (pre-asymptotic, floor), stated once in words. */
  dropRule: string;
  /** Fit-accuracy floor per measure where the study has one. */
  floor?: Record<string, number>;
  /** Lattice, potential, defect, boundary, sizes, solver settings, ... */
  settings: Record<string, unknown>;
  seeds: number[];
  wallTimeSeconds: number;
  /** Free-form remarks that a reader must see (regime, evidence for 'not observed'). */
  notes?: string[];
}
