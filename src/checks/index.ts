import type { SitePotential } from '../potentials/types.ts';
import { checkForceConstants, checkForces, checkHessianVector, checkVirial } from './derivatives.ts';
import { checkExtensivity } from './extensivity.ts';
import { checkCompensatedSum, checkHighPrecision } from './precision.ts';
import { checkCutoffSmoothness, checkKnotRegularity } from './regularity.ts';
import { checkInvariance, checkLocality } from './symmetry.ts';
import type { CheckFn, CheckOptions, CheckResult } from './types.ts';

export * from './types.ts';
export { checkForceConstants, checkForces, checkHessianVector, checkVirial } from './derivatives.ts';
export { checkExtensivity } from './extensivity.ts';
export { checkCompensatedSum, checkHighPrecision, exactDecimal } from './precision.ts';
export { checkInvariance, checkLocality } from './symmetry.ts';
export { checkCutoffSmoothness, checkKnotRegularity, splineSecondDerivativeJumps, type Continuity } from './regularity.ts';
export { withoutSiteEnergies } from './wrappers.ts';

/**
 * Every check, in report order. Each takes any SitePotential, so `mlip-verify check --engine ...` can run the same list
 * on an external engine wrapped as a SitePotential.
 */
export const CHECKS: Readonly<Record<string, CheckFn>> = {
  forces: checkForces,
  virial: checkVirial,
  'hessian-vector': checkHessianVector,
  'force-constants': checkForceConstants,
  invariance: checkInvariance,
  locality: checkLocality,
  'cutoff-smoothness': checkCutoffSmoothness,
  'knot-regularity': checkKnotRegularity,
  extensivity: checkExtensivity,
  'high-precision': checkHighPrecision,
  'compensated-sum': checkCompensatedSum,
};

export function runChecks(pot: SitePotential, opts: CheckOptions, names: readonly string[] = Object.keys(CHECKS)): CheckResult[] {
  return names.map((n) => {
    const f = CHECKS[n];
    if (!f) throw new Error(`unknown check '${n}'`);
    return f(pot, opts);
  });
}
