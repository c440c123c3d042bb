import type { Domain } from '../lattice/domain.ts';
import type { Structure } from '../lattice/structure.ts';
import type { SitePotential } from '../potentials/types.ts';
import { ParameterError } from '../util/errors.ts';

/**
 * Relaxation of the training defect cell through src/relax (relax(pot, structure, free, opts)), loaded lazily by URL
 * so the fitting code does not depend on the solver module's internals at type level. Tolerance 1e-10 by default:
 * the relaxed cell's forces are observations, and anything left above the fit floor would be fitted as physics.
 */
export function referenceRelax(opts: { tol?: number } = {}): (pot: SitePotential, dom: Domain) => Promise<Structure> {
  return async (pot, dom) => {
    let mod: { relax?: (p: SitePotential, s: Structure, free: Uint8Array | null, o: Record<string, unknown>) => { structure: Structure } };
    try {
      mod = (await import(new URL('../relax/relax.ts', import.meta.url).href)) as typeof mod;
    } catch (e) {
      throw new ParameterError(`relaxation module src/relax/relax.ts is not available: ${(e as Error).message}`);
    }
    if (typeof mod.relax !== 'function') throw new ParameterError('src/relax/relax.ts does not export relax()');
    return mod.relax(pot, dom.structure, dom.free, { tol: opts.tol ?? 1e-10 }).structure;
  };
}
