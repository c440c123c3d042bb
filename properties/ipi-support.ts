/** Shared set-up for the ipi-* tests: structures for the reference potentials, a server + fake client pair, and a
 * bound on every async step so no test case can hang. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ballDomain, periodicDomain } from '../src/lattice/domain.ts';
import { makeLattice } from '../src/lattice/lattice.ts';
import type { Structure } from '../src/lattice/structure.ts';
import { makePotential } from '../src/potentials/defaults.ts';
import { Rng } from '../src/util/rng.ts';

export type RefName = 'morse-2d' | 'eam-fcc';

/** A rattled defect structure for a reference potential: periodic cell or clamped ball (open boundaries). */
export function testStructure(name: RefName, boundary: 'periodic' | 'ball', seed: number, amp: number): Structure {
  const pot = makePotential(name);
  const lat = makeLattice(name === 'morse-2d' ? 'triangular' : 'fcc', 1);
  const dom =
    boundary === 'periodic'
      ? periodicDomain(lat, 'vacancy', name === 'morse-2d' ? 6 : 4.3, pot.cutoff)
      : ballDomain(lat, 'vacancy', name === 'morse-2d' ? 1.5 : 1.05, pot.cutoff);
  const rng = new Rng(seed);
  const x = Float64Array.from(dom.structure.positions);
  for (let i = 0; i < x.length; i++) x[i] += amp * (rng.uniform() - 0.5);
  return { dim: dom.structure.dim, positions: x, cell: dom.structure.cell };
}

/** Reject after ms: wrapped around every awaited step so a regression shows as a failed case, not a hung run. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<never>((_, rej) => {
      t = setTimeout(() => rej(new Error(`test bound: ${what} did not finish within ${ms} ms`)), ms);
    }),
  ]);
}

/** A private temporary directory for UNIX sockets (removed by the returned cleanup). */
export function socketDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'ipi-test-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Largest |a_i - b_i| relative to max(1, max |b_i|). */
export function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 1;
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(b[i]));
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d / m;
}
