import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { formatExtxyz, parseExtxyz } from '../src/io/extxyz.ts';
import type { TrainingConfig, TrainingSet } from '../src/fit/types.ts';
import { ParseError } from '../src/util/errors.ts';

const anyDouble = fc.double({ noNaN: true, noDefaultInfinity: true });

const configArb = fc.integer({ min: 2, max: 3 }).chain((dim) =>
  fc.integer({ min: 1, max: 5 }).chain((n) =>
    fc.record({
      dim: fc.constant(dim as 2 | 3),
      pos: fc.array(anyDouble, { minLength: n * dim, maxLength: n * dim }),
      forces: fc.option(fc.array(anyDouble, { minLength: n * dim, maxLength: n * dim }), { nil: undefined }),
      cell: fc.option(fc.array(anyDouble, { minLength: dim * dim, maxLength: dim * dim }), { nil: undefined }),
      energy: fc.option(anyDouble, { nil: undefined }),
      virial: fc.array(anyDouble, { minLength: dim * dim, maxLength: dim * dim }),
      weight: fc.double({ min: 0, max: 1e6, noNaN: true }),
      fc: fc.option(fc.array(fc.array(anyDouble, { minLength: n * dim, maxLength: n * dim }), { minLength: dim, maxLength: dim }), { nil: undefined }),
      atom: fc.integer({ min: 0, max: n - 1 }),
    }),
  ),
);

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function toConfig(r: any): TrainingConfig {
  const c: TrainingConfig = {
    role: 'rattled',
    structure: { dim: r.dim, positions: Float64Array.from(r.pos), cell: r.cell ? Float64Array.from(r.cell) : null },
    weight: r.weight,
  };
  if (r.energy !== undefined) c.energy = r.energy;
  if (r.forces) c.forces = Float64Array.from(r.forces);
  if (r.cell) c.virial = Float64Array.from(r.virial);
  if (r.fc) c.forceConstants = { atom: r.atom, columns: r.fc.map((x: number[]) => Float64Array.from(x)) };
  return c;
}

function sameBits(a: ArrayLike<number> | undefined, b: ArrayLike<number> | undefined): void {
  expect(a === undefined).toBe(b === undefined);
  if (!a || !b) return;
  expect(b.length).toBe(a.length);
  for (let i = 0; i < a.length; i++) expect(Object.is(a[i], b[i])).toBe(true);
}

describe('extxyz', () => {
  test('write then read reproduces every number bit for bit (2D padded to 3D, -0, subnormals, extremes)', () => {
    fc.assert(
      fc.property(fc.array(configArb, { minLength: 1, maxLength: 3 }), (recs) => {
        const configs = recs.map(toConfig);
        const set: TrainingSet = { configs, observations: ['E', 'F', 'V'], meta: {} };
        const back = parseExtxyz(formatExtxyz(set));
        expect(back.configs.length).toBe(configs.length);
        expect(back.observations).toEqual(['E', 'F', 'V']);
        configs.forEach((c, q) => {
          const d = back.configs[q];
          expect(d.structure.dim).toBe(c.structure.dim);
          sameBits(c.structure.positions, d.structure.positions);
          sameBits(c.structure.cell ?? undefined, d.structure.cell ?? undefined);
          sameBits(c.forces, d.forces);
          sameBits(c.virial, d.virial);
          expect(Object.is(c.energy, d.energy)).toBe(true);
          expect(Object.is(c.weight, d.weight)).toBe(true);
          expect(d.forceConstants?.atom).toBe(c.forceConstants?.atom);
          c.forceConstants?.columns.forEach((col, b) => sameBits(col, d.forceConstants!.columns[b]));
        });
      }),
      { numRuns: 200 },
    );
  });

  test('random corruptions of a valid file either parse or throw ParseError with a line number inside the file', () => {
    const base: TrainingSet = {
      configs: [
        toConfig({ dim: 2, pos: [0, 0, 1, 0.5], forces: [1, 2, 3, 4], cell: [3, 0, 1, 3], energy: -1.5, virial: [1, 2, 2, 1], weight: 1, atom: 0 }),
        toConfig({ dim: 3, pos: [0, 0, 0], forces: [1, 2, 3], cell: undefined, energy: 2, virial: [1, 0, 0, 0, 1, 0, 0, 0, 1], weight: 2, atom: 0 }),
      ],
      observations: ['E', 'F'],
      meta: {},
    };
    const text = formatExtxyz(base);
    const nLines = text.split('\n').length;
    const edit = fc.oneof(
      fc.record({ kind: fc.constant('delete'), at: fc.nat(), len: fc.integer({ min: 1, max: 20 }) }),
      fc.record({ kind: fc.constant('insert'), at: fc.nat(), s: fc.string({ maxLength: 8 }) }),
      fc.record({ kind: fc.constant('replace'), at: fc.nat(), s: fc.constantFrom('"', '=', ' ', '\n', 'x', '-', 'e', '1e999', 'NaN', ':', 'T', '\t') }),
    );
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 4 }), (edits) => {
        let t = text;
        for (const e of edits) {
          const at = e.at % (t.length + 1);
          if (e.kind === 'delete') t = t.slice(0, at) + t.slice(at + (e as { len: number }).len);
          else if (e.kind === 'insert') t = t.slice(0, at) + (e as { s: string }).s + t.slice(at);
          else t = t.slice(0, at) + (e as { s: string }).s + t.slice(at + 1);
        }
        try {
          parseExtxyz(t);
        } catch (err) {
          expect(err).toBeInstanceOf(ParseError);
          const line = (err as ParseError).line;
          expect(Number.isInteger(line) && line >= 1 && line <= Math.max(nLines, t.split('\n').length) + 1).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });

  test('malformed headers name the line: missing Lattice for pbc, bad counts, non-numeric values', () => {
    const cases: Array<[string, number]> = [
      ['2\npbc="T T T" Properties=species:S:1:pos:R:3\nX 0 0 0\nX 1 1 1\n', 2],
      ['x\n\n', 1],
      ['1\nProperties=species:S:1:pos:R:3 energy=abc\nX 0 0 0\n', 2],
      ['1\nProperties=species:S:1:pos:R:3\nX 0 0\n', 3],
      ['2\nProperties=species:S:1:pos:R:3\nX 0 0 0\n', 4],
    ];
    for (const [t, line] of cases) {
      let caught: unknown;
      try {
        parseExtxyz(t);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(ParseError);
      expect((caught as ParseError).line).toBe(line);
    }
  });
});
