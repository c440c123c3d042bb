import fc from 'fast-check';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { applyStrain, maxAbs, rattledCluster, rattledPeriodic } from '../src/checks/configs.ts';
import { richardson, richardsonScalar } from '../src/checks/fd.ts';
import { formatEamFile, parseEamFile, readEamFile, type EamFile, type EamFormat } from '../src/io/eam-file.ts';
import { analyticArb, formatArb, synthetic, tab, type Analytic } from './eam-arbitraries.ts';
import { buildNeighbourList } from '../src/lattice/neighbours.ts';
import type { Structure } from '../src/lattice/structure.ts';
import type { EAMPotential } from '../src/potentials/eam.ts';
import { lammpsArrays, LammpsSpline, readEamPotential, tabulatedEam, TabulatedDensity, TabulatedEmbedding, TabulatedPair } from '../src/potentials/eam-table.ts';
import { evaluate, hessianVector } from '../src/potentials/evaluate.ts';
import { ParameterError, ParseError } from '../src/util/errors.ts';
import { Rng } from '../src/util/rng.ts';

/**
 * The LAMMPS EAM file reader (src/io/eam-file.ts) and the tabulated EAM built from it (src/potentials/eam-table.ts):
 * round trips of files generated from analytic functions, the spline's exactness at the knots and its interpolation
 * error bound, malformed files (always a ParseError with the right line), and the potential's forces, virial and
 * Hessian-vector products against finite differences. Agreement with LAMMPS itself is in engine-lammps.test.ts and
 * benchmarks/lammps-crosscheck.ts.
 */
const FIXTURE = join(process.cwd(), 'fixtures', 'Cu_u3.eam');


describe('EAM file round trip', () => {
  test('parse(format(file)) returns every table bit for bit, in all three formats', () => {
    fc.assert(
      fc.property(formatArb, analyticArb, fc.integer({ min: 5, max: 120 }), fc.integer({ min: 5, max: 120 }), fc.integer({ min: 1, max: 3 }), (format, p, nr, nrho, ne) => {
        const f = synthetic(format, p, nr, nrho, format === 'funcfl' ? 1 : ne);
        const g = parseEamFile(formatEamFile(f), format);
        expect(g).toEqual(f);
      }),
      { seed: 7101, numRuns: 60 },
    );
  });

  test('the spline reproduces its knots and interpolates a smooth function within the Hermite error bound', () => {
    // f = A sin(k x + c): |f''''| <= A k^4, |f'''''| <= A k^5. LAMMPS' slopes are 5-point differences (error
    // h^4 f^(5) / 30) and the Hermite cubic adds h^4 f'''' / 384, so in the interior (intervals whose both slopes are
    // 5-point) |s - f| <= h^4 A k^4 (1/384 + h k / 100) plus round-off.
    fc.assert(
      fc.property(
        fc.integer({ min: 12, max: 400 }),
        fc.double({ min: 0.5, max: 3, noNaN: true }),
        fc.double({ min: 0.3, max: 4, noNaN: true }),
        fc.double({ min: 0, max: 6, noNaN: true }),
        fc.integer({ min: 1, max: 1 << 30 }),
        (n, A, k, c, seed) => {
          const L = 6;
          const h = L / (n - 1);
          const f = (x: number) => A * Math.sin(k * x + c);
          const sp = new LammpsSpline(tab(n, h, f), h);
          const out = new Float64Array(3);
          for (let m = 0; m < n; m++) {
            sp.eval(m * h, out);
            expect(Math.abs(out[0] - sp.values[m])).toBeLessThanOrEqual(1e-14 * A * 8);
          }
          const bound = h ** 4 * A * k ** 4 * (1 / 384 + (h * k) / 100) + 1e-13 * A;
          const rng = new Rng(seed);
          for (let q = 0; q < 200; q++) {
            const x = 2 * h + rng.uniform() * (n - 5) * h;
            sp.eval(x, out);
            expect(Math.abs(out[0] - f(x))).toBeLessThanOrEqual(bound);
          }
        },
      ),
      { seed: 7102, numRuns: 80 },
    );
  });

  test('LAMMPS arrays: setfl/fs tables used as read; funcfl resampled onto Nr-1 / Nrho-1 knots, r*phi = 27.2*0.529 Z^2', () => {
    fc.assert(
      fc.property(formatArb, analyticArb, fc.integer({ min: 6, max: 200 }), fc.integer({ min: 6, max: 200 }), (format, p, nr, nrho) => {
        const f = synthetic(format, p, nr, nrho, format === 'funcfl' ? 1 : 2);
        const a = lammpsArrays(f, format === 'funcfl' ? undefined : 'Cu');
        const e = f.elements[0];
        if (format === 'funcfl') {
          expect(a.nr).toBe(nr - 1);
          expect(a.nrho).toBe(nrho - 1);
          for (let m = 0; m < a.nr; m++) {
            expect(Math.abs(a.rhor[m] - e.rhor[0][m])).toBeLessThanOrEqual(1e-14 * maxAbs(e.rhor[0]));
            const z = e.zr![m];
            expect(Math.abs(a.z2r[m] - 27.2 * 0.529 * z * z)).toBeLessThanOrEqual(1e-13 * 27.2 * 0.529 * maxAbs(e.zr!) ** 2);
          }
          for (let m = 0; m < a.nrho; m++) expect(Math.abs(a.frho[m] - e.frho[m])).toBeLessThanOrEqual(1e-14 * maxAbs(e.frho));
        } else {
          expect(a.frho).toBe(e.frho);
          expect(a.z2r).toBe(f.z2r[0]);
          expect(a.rhor).toBe(e.rhor[0]);
        }
        expect(a.rhomax).toBe((nrho - 1) * f.drho);
      }),
      { seed: 7103, numRuns: 40 },
    );
  });

  test('the real funcfl fixture (Cu_u3, Foiles et al.) reads, keeps its citation, and gives fcc Cu its known scale', () => {
    const f = readEamFile(FIXTURE);
    expect(f.header[0]).toContain('Foiles');
    expect([f.nrho, f.nr, f.elements[0].atomicNumber]).toEqual([500, 500, 29]);
    const pot = readEamPotential(FIXTURE);
    expect(pot.cutoff).toBe(f.cutoff);
    // Cohesive energy of Cu_u3 at a = 3.615 A is 3.54 eV/atom (Foiles et al. 1986 fit it to the experimental value).
    const s = rattledPeriodic(pot, 'fcc', 3.615 / Math.SQRT2, 1, 0, 0);
    const e = evaluate(pot, s).energy / (s.positions.length / 3);
    expect(e).toBeGreaterThan(-3.56);
    expect(e).toBeLessThan(-3.52);
  });

  test('multi-element files need an element; unknown elements are named in the error', () => {
    const f = synthetic('setfl', { rc: 5, D: 0.4, alpha: 1.5, beta: 2, A: 1 }, 30, 30, 2);
    expect(() => tabulatedEam(f)).toThrow(ParameterError);
    expect(() => tabulatedEam(f)).toThrow(/2 elements \(Cu, Ni\)/);
    expect(() => tabulatedEam(f, { element: 'Fe' })).toThrow(/'Fe' is not in the file/);
    const ni = tabulatedEam(f, { element: 'Ni' });
    expect(ni.density).toBeInstanceOf(TabulatedDensity);
  });
});

/** Line numbers (1-based) of the lines that hold table values, and the header lines, of a formatted file. */
function dataLines(text: string, format: EamFormat): number[] {
  const lines = text.split('\n');
  const first = format === 'funcfl' ? 4 : 6;
  const out: number[] = [];
  for (let i = first - 1; i < lines.length; i++) {
    // element lines of setfl/fs (Z mass a lattice) end with a lattice name: not table values
    if (lines[i].trim() === '' || /[A-Za-z]\s*$/.test(lines[i])) continue;
    out.push(i + 1);
  }
  return out;
}

describe('malformed EAM files', () => {
  const p: Analytic = { rc: 5, D: 0.4, alpha: 1.5, beta: 2, A: 1 };

  test('a non-number anywhere in a table is a ParseError naming that line', () => {
    fc.assert(
      fc.property(formatArb, fc.nat(), fc.nat(), fc.constantFrom('abc', '1.2.3', 'nan', '1e999', '--1', '0x10', '1,5'), (format, li, ti, junk) => {
        const text = formatEamFile(synthetic(format, p, 23, 17, format === 'funcfl' ? 1 : 2));
        const lines = text.split('\n');
        const cand = dataLines(text, format);
        const L = cand[li % cand.length];
        const toks = lines[L - 1].trim().split(/\s+/);
        toks[ti % toks.length] = junk;
        lines[L - 1] = toks.join(' ');
        let err: unknown;
        try {
          parseEamFile(lines.join('\n'), format, 'bad.eam');
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(ParseError);
        expect((err as ParseError).line).toBe(L);
        expect((err as ParseError).message).toMatch(new RegExp(`^bad\\.eam:line ${L}: `));
      }),
      { seed: 7201, numRuns: 120 },
    );
  });

  test('a value missing from a table line is detected (shifted block), at or after that line', () => {
    fc.assert(
      fc.property(formatArb, fc.nat(), (format, li) => {
        const text = formatEamFile(synthetic(format, p, 23, 17, format === 'funcfl' ? 1 : 2));
        const lines = text.split('\n');
        const cand = dataLines(text, format);
        const L = cand[li % cand.length];
        lines[L - 1] = lines[L - 1].trim().split(/\s+/).slice(1).join(' ');
        let err: unknown;
        try {
          parseEamFile(lines.join('\n'), format);
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(ParseError);
        expect((err as ParseError).line).toBeGreaterThanOrEqual(L);
      }),
      { seed: 7202, numRuns: 80 },
    );
  });

  test('header errors name the header line', () => {
    const fl = formatEamFile(synthetic('funcfl', p, 23, 17)).split('\n');
    const al = formatEamFile(synthetic('setfl', p, 23, 17, 2)).split('\n');
    const lineOf = (lines: string[], format: EamFormat, k: number, repl: string): number => {
      const l = lines.slice();
      l[k - 1] = repl;
      try {
        parseEamFile(l.join('\n'), format);
      } catch (e) {
        expect(e).toBeInstanceOf(ParseError);
        return (e as ParseError).line;
      }
      throw new Error('no error');
    };
    expect(lineOf(fl, 'funcfl', 3, '500 0.1 3.5 0.01 5')).toBe(3); // Nr not an integer
    expect(lineOf(fl, 'funcfl', 3, '4 0.1 50 0.01 5')).toBe(3); // too few knots
    expect(lineOf(fl, 'funcfl', 3, '23 0.1 17 -0.01 5')).toBe(3); // negative dr
    expect(lineOf(fl, 'funcfl', 2, 'Cu 63.5')).toBe(2);
    expect(lineOf(al, 'setfl', 4, '3 Cu Ni')).toBe(4);
    expect(lineOf(al, 'setfl', 4, '2 Cu Cu')).toBe(4);
    expect(lineOf(al, 'setfl', 5, '17 0.1 23 0.1')).toBe(5);
    expect(lineOf(al, 'setfl', 6, '29')).toBe(6);
    // truncated: the end of file is reported one past the last line
    const t = al.slice(0, 30).join('\n');
    expect(() => parseEamFile(t, 'setfl')).toThrow(/line 31: unexpected end of file/);
    // trailing data after the last table
    expect(() => parseEamFile([...al.filter((x) => x !== ''), '1.0'].join('\n'), 'setfl')).toThrow(ParseError);
  });

  test('random corruption never crashes with anything but ParseError', () => {
    const ops = fc.oneof(
      fc.record({ op: fc.constant('replace' as const), at: fc.nat(), tok: fc.string({ maxLength: 6 }) }),
      fc.record({ op: fc.constant('delete' as const), at: fc.nat() }),
      fc.record({ op: fc.constant('duplicate' as const), at: fc.nat() }),
      fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
      fc.record({ op: fc.constant('insert' as const), at: fc.nat(), tok: fc.string({ maxLength: 12 }) }),
    );
    fc.assert(
      fc.property(formatArb, fc.array(ops, { minLength: 1, maxLength: 4 }), (format, edits) => {
        let text = formatEamFile(synthetic(format, p, 13, 11, format === 'funcfl' ? 1 : 2));
        for (const e of edits) {
          const lines = text.split('\n');
          const i = e.at % lines.length;
          if (e.op === 'replace') {
            const toks = lines[i].split(' ');
            toks[e.at % toks.length] = e.tok;
            lines[i] = toks.join(' ');
          } else if (e.op === 'delete') lines.splice(i, 1);
          else if (e.op === 'duplicate') lines.splice(i, 0, lines[i]);
          else if (e.op === 'insert') lines.splice(i, 0, e.tok);
          text = e.op === 'truncate' ? text.slice(0, e.at % (text.length + 1)) : lines.join('\n');
        }
        const nLines = text.split('\n').length;
        try {
          const f = parseEamFile(text, format);
          tabulatedEam(f, { element: f.elements[0].name }); // a file that parses also builds its potential
        } catch (err) {
          if (!(err instanceof ParseError)) throw err;
          expect(err.line).toBeGreaterThanOrEqual(1);
          expect(err.line).toBeLessThanOrEqual(nLines + 1);
        }
      }),
      { seed: 7203, numRuns: 400 },
    );
  });
});

/**
 * Finite differences of a C1 spline potential. The tables are cubic between knots with continuous slopes but jumping
 * second derivatives, so a difference quotient is exact to O(h^2) only if no pair distance r_ij (and no density
 * rho_i) crosses a knot or the cutoff within the steps. `safeStep` bounds the step so that none does: distance to the
 * nearest knot divided by the fastest rate at which r (or rho) moves along the path. Then Richardson-extrapolated
 * central differences are as accurate as for an analytic potential (tolerance 1e-7 as in src/checks).
 */
function safeStep(pot: EAMPotential, s: Structure, rate: (i: number, j: number, d: number[], r: number) => number): number {
  const pair = pot.pair as TabulatedPair;
  const emb = pot.embedding as TabulatedEmbedding;
  const dr = pair.z2r.delta;
  const drho = emb.frho.delta;
  const nl = buildNeighbourList(s, pot.cutoff * 1.01);
  const { dim, positions: x } = s;
  const n = nl.n;
  const rho = new Float64Array(n);
  const rhoRate = new Float64Array(n);
  const t = new Float64Array(3);
  let h = Infinity;
  for (let i = 0; i < n; i++) {
    for (let p = nl.offsets[i]; p < nl.offsets[i + 1]; p++) {
      const j = nl.index[p];
      const d = [0, 1, 2].slice(0, dim).map((a) => x[j * dim + a] + nl.shift[p * dim + a] - x[i * dim + a]);
      const r = Math.hypot(...d);
      const v = rate(i, j, d, r);
      if (v === 0) continue;
      const u = r / dr;
      const gap = Math.min(Math.abs(u - Math.round(u)) * dr, Math.abs(r - pot.cutoff));
      h = Math.min(h, gap / v);
      if (r < pot.cutoff) {
        pot.density!.eval(r, t);
        rho[i] += t[0];
        rhoRate[i] += Math.abs(t[1]) * v;
      }
    }
  }
  for (let i = 0; i < n; i++) {
    if (rhoRate[i] === 0) continue;
    const u = rho[i] / drho;
    h = Math.min(h, (Math.abs(u - Math.round(u)) * drho) / rhoRate[i]);
  }
  return 0.9 * h;
}

/** Below 1e-4 the O(h^2) truncation is ~1e-8 relative and Richardson would only amplify round-off. */
const levels = (h: number) => (h < 1e-4 ? 1 : 3);

function potentials(): Array<[string, EAMPotential]> {
  const p: Analytic = { rc: 5.2, D: 0.45, alpha: 1.6, beta: 1.8, A: 1.2 };
  return [
    ['Cu_u3.eam (funcfl fixture)', readEamPotential(FIXTURE)],
    ['synthetic setfl', tabulatedEam(synthetic('setfl', p, 600, 500, 1))],
    ['synthetic fs, element Ni of 2', tabulatedEam(synthetic('fs', p, 500, 400, 2), { element: 'Ni' })],
  ];
}

function config(pot: EAMPotential, seed: number, periodic: boolean): Structure {
  return periodic ? rattledPeriodic(pot, 'fcc', 2.556, seed, 0.02) : rattledCluster('fcc', 2.556, pot.cutoff, seed, 0.02);
}

describe.each(potentials())('%s: derivatives against finite differences', (_, pot) => {
  const seedsArb = fc.tuple(fc.integer({ min: 1, max: 2 ** 30 }), fc.boolean());

  test('forces = -grad E', () => {
    fc.assert(
      fc.property(seedsArb, ([seed, periodic]) => {
        const s = config(pot, seed, periodic);
        const F = evaluate(pot, s).forces;
        const nl = buildNeighbourList(s, pot.cutoff + 0.5);
        const rng = new Rng(seed);
        const scale = Math.max(maxAbs(F), 1e-2);
        for (let q = 0; q < 8; q++) {
          const k = Math.floor(rng.uniform() * F.length);
          const atom = Math.floor(k / 3);
          const h = Math.min(1e-3, safeStep(pot, s, (i, j) => (i === atom || j === atom ? 1 : 0)));
          const x = s.positions.slice();
          const d = richardsonScalar((t) => {
            x[k] = s.positions[k] + t;
            return pot.evaluate({ ...s, positions: x }, nl).energy;
          }, h, levels(h));
          expect(Math.abs(F[k] + d) / scale, `component ${k}, h ${h}`).toBeLessThan(1e-7);
        }
      }),
      { seed: 7301, numRuns: 4 },
    );
  });

  test('virial = -dE/d(strain)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 30 }), (seed) => {
        const s = config(pot, seed, true);
        const W = evaluate(pot, s).virial;
        const n = s.positions.length / 3;
        const scale = Math.max(maxAbs(W), n * 1e-2);
        const h = Math.min(1e-3, safeStep(pot, s, (_i, _j, _d, r) => r));
        for (let ab = 0; ab < 9; ab++) {
          const eps = new Float64Array(9);
          const fd = -richardsonScalar((t) => {
            eps[ab] = t;
            return evaluate(pot, { dim: 3, positions: applyStrain(s.positions, eps, 3), cell: applyStrain(s.cell!, eps, 3) }).energy;
          }, h, levels(h));
          expect(Math.abs(W[ab] - fd) / scale, `component ${ab}, h ${h}`).toBeLessThan(1e-7);
        }
      }),
      { seed: 7302, numRuns: 3 },
    );
  });

  test('Hessian-vector product = directional derivative of the gradient', () => {
    fc.assert(
      fc.property(seedsArb, ([seed, periodic]) => {
        const s = config(pot, seed, periodic);
        // A direction on 3 atoms: few pairs move, so the knot-free step stays well above round-off (a dense v
        // moves every pair and the nearest knot crossing comes within ~1e-9 A).
        const rng = new Rng(seed ^ 0x51);
        const v = new Float64Array(s.positions.length);
        for (let q = 0; q < 3; q++) {
          const a = Math.floor(rng.uniform() * (v.length / 3));
          for (let c = 0; c < 3; c++) v[3 * a + c] = rng.normal();
        }
        const vm = maxAbs(v);
        for (let i = 0; i < v.length; i++) v[i] /= vm;
        const hv = hessianVector(pot, s, v);
        const h = Math.min(1e-3, safeStep(pot, s, (i, j) => Math.hypot(v[3 * j] - v[3 * i], v[3 * j + 1] - v[3 * i + 1], v[3 * j + 2] - v[3 * i + 2])));
        const nl = buildNeighbourList(s, pot.cutoff + 0.5);
        const x = new Float64Array(v.length);
        const fd = richardson((t) => {
          for (let i = 0; i < x.length; i++) x[i] = s.positions[i] + t * v[i];
          return pot.evaluate({ ...s, positions: x }, nl).forces.map((f) => -f);
        }, h, levels(h));
        const scale = Math.max(maxAbs(hv), 1e-2);
        let worst = 0;
        for (let i = 0; i < hv.length; i++) worst = Math.max(worst, Math.abs(hv[i] - fd[i]) / scale);
        expect(worst, `h ${h}`).toBeLessThan(1e-7);
      }),
      { seed: 7303, numRuns: 4 },
    );
  });
});
