import fc from 'fast-check';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';
import { EngineError } from '../src/engines/errors.ts';
import { CommandTrainer, loadTrainer, loadTrainerModule, parseTrainerSpec, splitCommand } from '../src/engines/trainer-plugin.ts';
import { LinearTrainer } from '../src/fit/linear.ts';
import type { TrainingSet } from '../src/fit/types.ts';
import { periodicDomain } from '../src/lattice/domain.ts';
import { makeLattice } from '../src/lattice/lattice.ts';
import { defaultBasisSpec } from '../src/mlip/basis.ts';
import { parseModel } from '../src/mlip/model.ts';
import { evaluate } from '../src/potentials/evaluate.ts';
import { makePotential } from '../src/potentials/defaults.ts';
import { Rng } from '../src/util/rng.ts';
import { main } from '../src/cli/main.ts';
import { socketDir } from './ipi-support.ts';

const SEED = 808;
const tmp = socketDir();
afterAll(() => tmp.cleanup());
const EXAMPLE = fileURLToPath(new URL('./engine-trainer-example.ts', import.meta.url));
const CLI = fileURLToPath(new URL('../bin/mlip-verify.mjs', import.meta.url));

/** A small E+F+V training set from morse-2d: rattled periodic cells (seeded). */
function smallSet(seed: number): TrainingSet {
  const pot = makePotential('morse-2d');
  const lat = makeLattice('triangular', 1);
  const rng = new Rng(seed);
  const configs = [];
  for (let k = 0; k < 4; k++) {
    const dom = periodicDomain(lat, k % 2 ? 'vacancy' : 'none', 5.5, pot.cutoff);
    const x = dom.structure.positions.map((v) => v + 0.05 * (rng.uniform() - 0.5));
    const s = { ...dom.structure, positions: x };
    const r = evaluate(pot, s);
    configs.push({ role: 'defect-rattled', structure: s, energy: r.energy, forces: r.forces, virial: r.virial, weight: 1, seed: seed + k });
  }
  return { configs, observations: ['E', 'F', 'V'], meta: { cutoff: 2.5, rin: 1.9, reference: pot.describe(), seed } };
}

describe('trainer plug-ins', () => {
  test('module plug-in (TypeScript, createTrainer factory) trains like the built-in trainer it wraps', async () => {
    const set = smallSet(SEED);
    const t = await loadTrainer(parseTrainerSpec(EXAMPLE));
    expect(t.name).toBe('example-plugin(level 1)');
    const m = await t.train(set);
    expect(m.report.plugin).toBe('example');
    const direct = await new LinearTrainer({ basis: defaultBasisSpec(1, { dim: 2, cutoff: 2.5, rin: 1.9 }) }).train(set);
    const probe = set.configs[1].structure;
    expect(evaluate(m.potential, probe).energy).toBe(evaluate(direct.potential, probe).energy);
    const t2 = await loadTrainerModule(EXAMPLE, { level: 2 });
    expect(t2.name).toBe('example-plugin(level 2)');
  });

  test('module export forms: default object, named trainer, class; bad modules are typed errors', async () => {
    const w = (name: string, body: string) => {
      const p = join(tmp.dir, name);
      writeFileSync(p, body);
      return p;
    };
    const ok = `{ name: 'x', async train() { const { makePotential } = await import(${JSON.stringify(new URL('../src/potentials/defaults.ts', import.meta.url).href)}); return { potential: makePotential('morse-2d'), report: {} }; } }`;
    for (const [file, body] of [
      ['a.mjs', `export default ${ok};`],
      ['b.mjs', `export const trainer = ${ok};`],
      ['c.mjs', `export default class { constructor() { Object.assign(this, ${ok}); } }`],
    ]) {
      const t = await loadTrainerModule(w(file, body));
      expect((await t.train(smallSet(1))).potential.name).toBe('morse-2d');
    }
    await expect(loadTrainerModule(w('d.mjs', 'export const nothing = 1;'))).rejects.toMatchObject({ kind: 'config' });
    await expect(loadTrainerModule(join(tmp.dir, 'missing.mjs'))).rejects.toThrow(/not found/);
    await expect(loadTrainerModule(w('e.mjs', 'this is not javascript'))).rejects.toMatchObject({ kind: 'config' });
    const bad = await loadTrainerModule(w('f.mjs', `export default { name: 'bad', async train() { return { potential: { name: 'p' }, report: {} }; } };`));
    await expect(bad.train(smallSet(1))).rejects.toThrow(/without cutoff/);
  });

  test('command template: extxyz out, external fit process, model back through an engine; same model as in-process', async () => {
    const set = smallSet(SEED + 1);
    const t = new CommandTrainer({
      command: `'${process.execPath}' '${CLI}' fit --train {train} --out {model} --level 1`,
      engine: 'mlip-json:{model}',
      keepFiles: true,
    });
    try {
      const m = await t.train(set);
      expect(t.lastRun?.code).toBe(0);
      // The same CLI in-process on the file the plug-in wrote gives the bit-identical model.
      const train = t.lastRun!.argv[t.lastRun!.argv.indexOf('--train') + 1];
      const out = join(tmp.dir, 'inproc.json');
      const log = console.log;
      console.log = () => {};
      try {
        expect(await main(['fit', '--train', train, '--out', out, '--level', '1'])).toBe(0);
      } finally {
        console.log = log;
      }
      const model = t.lastRun!.argv[t.lastRun!.argv.indexOf('--out') + 1];
      expect(readFileSync(model, 'utf8')).toBe(readFileSync(out, 'utf8'));
      // ... and the potential handed back is that model.
      const probe = set.configs[0].structure;
      expect(evaluate(m.potential, probe).energy).toBe(evaluate(parseModel(readFileSync(out, 'utf8')), probe).energy);
      expect(m.report.argv).toEqual(t.lastRun!.argv);
    } finally {
      await t.close();
    }
  });

  test('command failures are typed: exit code, timeout, missing model, missing binary', async () => {
    const set = smallSet(3);
    const node = `'${process.execPath}'`;
    const cases: Array<[string, string, number | undefined]> = [
      [`${node} -e "process.exit(3)"`, 'client-exited', undefined],
      [`${node} -e "setTimeout(() => {}, 20000)"`, 'timeout', 300],
      [`${node} -e "0"`, 'config', undefined],
      ['/nonexistent/fit-binary --train {train}', 'spawn', undefined],
    ];
    for (const [command, kind, timeoutMs] of cases) {
      const t = new CommandTrainer({ command, engine: 'mlip-json:{model}', timeoutMs });
      const err = await t.train(set).then(() => null, (e: unknown) => e);
      expect(err, command).toBeInstanceOf(EngineError);
      expect((err as EngineError).kind, command).toBe(kind);
      await t.close();
    }
    expect(() => parseTrainerSpec('cmd:my-fit --train {train}')).toThrow(/--trainer-engine/);
  });

  test('splitCommand: words survive quoting (fast-check)', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ minLength: 1, maxLength: 8 }).filter((s) => !s.includes("'")), { minLength: 1, maxLength: 6 }), (words) => {
        expect(splitCommand(words.map((w) => `'${w}'`).join(' '))).toEqual(words);
      }),
      { seed: SEED, numRuns: 300 },
    );
    expect(splitCommand(`my-fit --train {train} "--name" "a b" c\\ d`)).toEqual(['my-fit', '--train', '{train}', '--name', 'a b', 'c d']);
  });
});
