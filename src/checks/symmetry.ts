import { atomCount, inverse, type Structure } from '../lattice/structure.ts';
import { evaluate } from '../potentials/evaluate.ts';
import type { EvalResult, SitePotential } from '../potentials/types.ts';
import { Rng } from '../util/rng.ts';
import { caseConfig, deriveSeed, maxAbs, randomRotation, rotateRows } from './configs.ts';
import { FLOOR, makeResult, NO_SITE_ENERGIES, skipResult, Worst, type CheckOptions, type CheckResult } from './types.ts';


/**
 * Invariance of E under translation, rotation, reflection and permutation of atoms, and covariance of forces
 * (F(Qx) = Q F(x), permuted forces follow their atoms) and of the virial (W(Qx) = Q W Q^T). For a periodic cell the
 * cell vectors are rotated with the atoms. Energy error |E' - E| / max(|E|, N FLOOR.energyPerAtom); force error
 * |F' - Q F|_inf / max(|F|_inf, FLOOR.force); virial likewise per atom. Exact in exact arithmetic, so the tolerance
 * 1e-11 only absorbs round-off from the changed summation order.
 */
export function checkInvariance(pot: SitePotential, opts: CheckOptions): CheckResult {
  const tol = 1e-11;
  const nCases = opts.cases ?? 2;
  const w = new Worst();
  for (let c = 0; c < nCases; c++) {
    const seed = deriveSeed(opts.seed, c);
    const cfg = caseConfig(pot, opts, seed);
    const s = cfg.structure;
    const d = s.dim;
    const n = atomCount(s);
    const rng = new Rng(seed ^ 0x3c6ef372);
    const base = evaluate(pot, s);
    const eScale = Math.max(Math.abs(base.energy), n * FLOOR.energyPerAtom);
    const fScale = Math.max(maxAbs(base.forces), FLOOR.force);
    const wScale = Math.max(maxAbs(base.virial), n * FLOOR.virialPerAtom);

    const transforms: Array<{ kind: string; s: Structure; Q: Float64Array | null; perm: Int32Array | null }> = [];
    const t = new Float64Array(d);
    for (let a = 0; a < d; a++) t[a] = cfg.r0 * 3 * (2 * rng.uniform() - 1);
    const tr = s.positions.slice();
    for (let i = 0; i < tr.length; i++) tr[i] += t[i % d];
    transforms.push({ kind: 'translation', s: { dim: d, positions: tr, cell: s.cell }, Q: null, perm: null });
    const Q = randomRotation(rng, d);
    const R = Q.slice(); // reflection: Q followed by x_0 -> -x_0 (det -1)
    for (let b = 0; b < d; b++) R[b] = -R[b];
    for (const [kind, M] of [['rotation', Q], ['reflection', R]] as const) {
      transforms.push({
        kind,
        s: { dim: d, positions: rotateRows(s.positions, M, d), cell: s.cell ? rotateRows(s.cell, M, d) : null },
        Q: M,
        perm: null,
      });
    }
    const perm = new Int32Array(n);
    for (let i = 0; i < n; i++) perm[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rng.uniform() * (i + 1));
      const x = perm[i];
      perm[i] = perm[j];
      perm[j] = x;
    }
    // New atom i is old atom perm[i].
    const pp = new Float64Array(n * d);
    for (let i = 0; i < n; i++) for (let a = 0; a < d; a++) pp[i * d + a] = s.positions[perm[i] * d + a];
    transforms.push({ kind: 'permutation', s: { dim: d, positions: pp, cell: s.cell }, Q: null, perm });

    for (const T of transforms) {
      const r = evaluate(pot, T.s);
      const expF = expectedForces(base, T.Q, T.perm, d, n);
      const expW = T.Q ? conj(base.virial, T.Q, d) : base.virial;
      const eErr = Math.abs(r.energy - base.energy) / eScale;
      let fErr = 0;
      for (let i = 0; i < expF.length; i++) fErr = nanMax(fErr, Math.abs(r.forces[i] - expF[i]) / fScale);
      let wErr = 0;
      // (an engine without stress has a NaN virial and says so: only its energy and forces are judged)
      if (s.cell && pot.describe().virialUnavailable === undefined)
        for (let i = 0; i < expW.length; i++) wErr = nanMax(wErr, Math.abs(r.virial[i] - expW[i]) / wScale);
      const e = nanMax(nanMax(eErr, fErr), wErr);
      w.update(e, { seed, boundary: cfg.boundary, atoms: n, transform: T.kind, energyError: eErr, forceError: fErr, virialError: wErr });
    }
  }
  return makeResult('invariance', pot, w.value, tol, w.detail, nCases);
}

function nanMax(a: number, b: number): number {
  return Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.max(a, b);
}

function expectedForces(base: EvalResult, Q: Float64Array | null, perm: Int32Array | null, d: number, n: number): Float64Array {
  if (Q) return rotateRows(base.forces, Q, d);
  if (perm) {
    const f = new Float64Array(n * d);
    for (let i = 0; i < n; i++) for (let a = 0; a < d; a++) f[i * d + a] = base.forces[perm[i] * d + a];
    return f;
  }
  return base.forces;
}

/** Q W Q^T. */
function conj(W: Float64Array, Q: Float64Array, d: number): Float64Array {
  const out = new Float64Array(d * d);
  for (let a = 0; a < d; a++)
    for (let b = 0; b < d; b++) {
      let t = 0;
      for (let k = 0; k < d; k++) for (let l = 0; l < d; l++) t += Q[a * d + k] * W[k * d + l] * Q[b * d + l];
      out[a * d + b] = t;
    }
  return out;
}

/**
 * Distance from atom i to the nearest periodic image of every atom (plain distances when open). Brute force over the
 * 3^d neighbouring images of the wrapped fractional difference, which finds every image closer than half the smallest
 * cell width; the checks use it only below the cutoff, and legal cells are at least 2 cutoffs wide.
 */
export function nearestImageDistances(s: Structure, i: number): Float64Array {
  const n = atomCount(s);
  const d = s.dim;
  const x = s.positions;
  const out = new Float64Array(n);
  const dx = new Float64Array(d);
  if (!s.cell) {
    for (let j = 0; j < n; j++) {
      let r2 = 0;
      for (let a = 0; a < d; a++) r2 += (x[j * d + a] - x[i * d + a]) ** 2;
      out[j] = Math.sqrt(r2);
    }
    out[i] = Infinity;
    return out;
  }
  const cell = s.cell;
  const inv = inverse(cell, d);
  const f = new Float64Array(d);
  const m = d === 3 ? 27 : 9;
  for (let j = 0; j < n; j++) {
    for (let a = 0; a < d; a++) dx[a] = x[j * d + a] - x[i * d + a];
    for (let k = 0; k < d; k++) {
      let t = 0;
      for (let a = 0; a < d; a++) t += dx[a] * inv[a * d + k];
      f[k] = t - Math.round(t);
    }
    let best = Infinity;
    for (let q = 0; q < m; q++) {
      const o0 = (q % 3) - 1;
      const o1 = (Math.floor(q / 3) % 3) - 1;
      const o2 = d === 3 ? Math.floor(q / 9) - 1 : 0;
      if (j === i && o0 === 0 && o1 === 0 && o2 === 0) continue;
      let r2 = 0;
      for (let a = 0; a < d; a++) {
        let t = (f[0] + o0) * cell[a] + (f[1] + o1) * cell[d + a];
        if (d === 3) t += (f[2] + o2) * cell[2 * d + a];
        r2 += t * t;
      }
      if (r2 < best) best = r2;
    }
    out[j] = Math.sqrt(best);
  }
  return out;
}

/**
 * Locality: the site energy V_i depends only on atoms within the cutoff of i. Atoms j whose every image lies outside
 * the cutoff (preferably just outside, where a too-long hidden range would show) are moved to another position that
 * is still outside, and V_i must not change. Error |V_i' - V_i| / max(|V_i|, FLOOR.energyPerAtom); tolerance 1e-12
 * (the kernel's sum over i's neighbours is unchanged; only an engine's reordering could add round-off).
 * Needs site energies.
 */
export function checkLocality(pot: SitePotential, opts: CheckOptions): CheckResult {
  const tol = 1e-12;
  const nCases = opts.cases ?? 2;
  const w = new Worst();
  const rc = pot.cutoff;
  let tested = 0;
  for (let c = 0; c < nCases; c++) {
    const seed = deriveSeed(opts.seed, c);
    const cfg = caseConfig(pot, opts, seed);
    const s = cfg.structure;
    const d = s.dim;
    const n = atomCount(s);
    const base = evaluate(pot, s);
    if (!base.siteEnergies) return skipResult('locality', pot, NO_SITE_ENERGIES, opts.seed);
    const rng = new Rng(seed ^ 0x9b05688c);
    const margin = 1e-6 * cfg.r0;
    for (let trial = 0; trial < 4; trial++) {
      const i = Math.floor(rng.uniform() * n);
      const dist = nearestImageDistances(s, i);
      // Candidates: outside the cutoff, nearest ones first (they test the edge of the range).
      const cand: number[] = [];
      for (let j = 0; j < n; j++) if (j !== i && dist[j] > rc + margin) cand.push(j);
      cand.sort((a, b) => dist[a] - dist[b]);
      for (const j of cand.slice(0, 3)) {
        // Try a few random moves of j by up to 0.3 r0 that keep every image of j outside the cutoff of i and at
        // least 0.6 r0 from every other atom.
        for (let attempt = 0; attempt < 20; attempt++) {
          const pos = s.positions.slice();
          for (let a = 0; a < d; a++) pos[j * d + a] += 0.3 * cfg.r0 * (2 * rng.uniform() - 1);
          const moved: Structure = { dim: d, positions: pos, cell: s.cell };
          const di = nearestImageDistances(moved, i);
          if (!(di[j] > rc + margin)) continue;
          const dj = nearestImageDistances(moved, j);
          if (dj.some((x, k) => k !== j && x < 0.6 * cfg.r0)) continue;
          const r = evaluate(pot, moved);
          const vi = base.siteEnergies[i];
          const e = Math.abs(r.siteEnergies![i] - vi) / Math.max(Math.abs(vi), FLOOR.energyPerAtom);
          tested++;
          w.update(e, {
            seed,
            boundary: cfg.boundary,
            atoms: n,
            site: i,
            movedAtom: j,
            distanceBefore: dist[j],
            distanceAfter: di[j],
            siteEnergy: vi,
            siteEnergyAfter: r.siteEnergies![i],
          });
          break;
        }
      }
    }
  }
  if (tested === 0) w.update(NaN, { seed: opts.seed, reason: 'no admissible move found' });
  return makeResult('locality', pot, w.value, tol, { ...w.detail, moves: tested }, nCases);
}
