import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Trainer, TrainedModel, TrainingSet } from '../fit/types.ts';
import { writeExtxyz } from '../io/extxyz.ts';
import { parseModel } from '../mlip/model.ts';
import type { SitePotential } from '../potentials/types.ts';
import { EngineError } from './errors.ts';
import { resolveEngine } from './resolve.ts';

/**
 * Trainer plug-ins: someone else's fitting code in place of the default linear least-squares trainer, so that the
 * training-size and fit-accuracy studies can run it. Two forms:
 *
 * 1. A module (TypeScript or JavaScript; TypeScript loads because the CLI runs under tsx) exporting the Trainer
 *    interface of src/fit/types.ts as `default` or `trainer`, or a factory `createTrainer(options)` (or a default
 *    export that is a function/class taking options). Its train(set) gets our TrainingSet object directly.
 * 2. A command template, e.g. `my-fit --train {train} --out {model}`: we write the training set as extended XYZ to
 *    {train} (src/io/extxyz.ts, ASE's conventions, so ASE-based fitting codes read it), run the command without a
 *    shell (arguments split like a shell would, with '...' or "..." quoting), then load {model} with a model engine:
 *    `mlip-json:{model}` (our linear MLIP JSON), `lammps:...{model}...` (e.g. a SNAP fit: `lammps:snap;* *
 *    {model}.snapcoeff {model}.snapparam Ni`), or any function from the model path to a SitePotential.
 *    Placeholders: {train}, {model}, {dir} (a fresh working directory per training). A non-zero exit, a timeout, or a
 *    missing model file is an EngineError naming the command and the tail of its output.
 *
 * Both kinds are validated on load and after training (the returned potential must have name, cutoff, evaluate,
 * hessianVector and describe), because a plug-in that returns something else would otherwise fail deep inside a study.
 */
export type TrainerSpec =
  | { kind: 'module'; path: string; options?: Record<string, unknown> }
  | { kind: 'command'; command: string; engine: string | ((modelPath: string) => SitePotential); name?: string; timeoutMs?: number; keepFiles?: boolean };

/** `--trainer <spec>`: `cmd:<template>` is a command template, anything else a module path. */
export function parseTrainerSpec(spec: string, engine?: string): TrainerSpec {
  if (spec.startsWith('cmd:')) {
    if (!engine) throw new EngineError('config', `--trainer ${spec}: a command trainer needs --trainer-engine (e.g. mlip-json:{model})`);
    return { kind: 'command', command: spec.slice(4), engine };
  }
  return { kind: 'module', path: spec };
}

export async function loadTrainer(spec: TrainerSpec): Promise<Trainer> {
  return spec.kind === 'module' ? loadTrainerModule(spec.path, spec.options) : new CommandTrainer(spec);
}

function isTrainer(x: unknown): x is Trainer {
  return !!x && typeof x === 'object' && typeof (x as Trainer).name === 'string' && typeof (x as Trainer).train === 'function';
}

/** Throws unless p looks like a SitePotential; says which member is missing. */
export function assertSitePotential(p: unknown, who: string): asserts p is SitePotential {
  const need: Array<[string, string]> = [
    ['name', 'string'],
    ['cutoff', 'number'],
    ['evaluate', 'function'],
    ['hessianVector', 'function'],
    ['describe', 'function'],
  ];
  if (!p || typeof p !== 'object') throw new EngineError('config', `${who} returned ${p === null ? 'null' : typeof p}, not a SitePotential`);
  for (const [k, t] of need) {
    if (typeof (p as Record<string, unknown>)[k] !== t) {
      throw new EngineError('config', `${who} returned a potential without ${k} (${t}); a SitePotential needs name, cutoff, evaluate, hessianVector, describe`);
    }
  }
  const c = (p as SitePotential).cutoff;
  if (!(c > 0) || !Number.isFinite(c)) throw new EngineError('config', `${who} returned a potential with cutoff ${c}`);
}

/** Wrap a trainer so that what it returns is checked before a study uses it. */
function checked(t: Trainer, who: string): Trainer {
  return {
    name: t.name,
    async train(set: TrainingSet): Promise<TrainedModel> {
      const m = await t.train(set);
      if (!m || typeof m !== 'object') throw new EngineError('config', `${who}: train() returned ${typeof m}, not { potential, report }`);
      assertSitePotential(m.potential, `${who}: train()`);
      return { potential: m.potential, report: m.report ?? {} };
    },
  };
}

export async function loadTrainerModule(path: string, options: Record<string, unknown> = {}): Promise<Trainer> {
  const abs = isAbsolute(path) ? path : resolve(process.cwd(), path);
  if (!existsSync(abs)) throw new EngineError('config', `trainer module not found: ${abs}`);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(abs).href)) as Record<string, unknown>;
  } catch (e) {
    throw new EngineError('config', `cannot load trainer module ${abs}: ${(e as Error).message}`);
  }
  const who = `trainer module ${path}`;
  for (const cand of [mod.default, mod.trainer]) if (isTrainer(cand)) return checked(cand, who);
  const factory = (mod.createTrainer ?? mod.default) as unknown;
  if (typeof factory === 'function') {
    let t: unknown;
    try {
      t = (factory as (o: unknown) => unknown)(options);
    } catch (e) {
      if (e instanceof TypeError && /class constructor/i.test(e.message)) t = new (factory as new (o: unknown) => unknown)(options);
      else throw e;
    }
    t = await t;
    if (isTrainer(t)) return checked(t, who);
  }
  throw new EngineError('config', `${who} exports no Trainer: export default (or \`trainer\`) an object { name, train(set) }, or a factory createTrainer(options)`);
}

/** Split a command template into argv like a POSIX shell would for words and quotes (no expansion, no pipes). */
export function splitCommand(cmd: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let q: string | null = null;
  for (let i = 0; i < cmd.length; i++) {
    const c = cmd[i];
    if (q) {
      if (c === q) q = null;
      else if (c === '\\' && q === '"' && i + 1 < cmd.length) cur += cmd[++i];
      else cur += c;
    } else if (c === "'" || c === '"') {
      q = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < cmd.length) {
      cur += cmd[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (q) throw new EngineError('config', `unbalanced ${q} in command template: ${cmd}`);
  if (inWord) out.push(cur);
  return out;
}

export class CommandTrainer implements Trainer {
  readonly name: string;
  /** The last run's argv, exit status and output tail (for reports). */
  lastRun: { argv: string[]; code: number | null; seconds: number; output: string } | null = null;
  private readonly spec: Extract<TrainerSpec, { kind: 'command' }>;
  private readonly opened: Array<{ close(): Promise<void> }> = [];

  constructor(spec: Omit<Extract<TrainerSpec, { kind: 'command' }>, 'kind'>) {
    this.spec = { kind: 'command', ...spec };
    if (splitCommand(spec.command).length === 0) throw new EngineError('config', 'empty trainer command');
    this.name = spec.name ?? `cmd:${spec.command}`;
  }

  async train(set: TrainingSet): Promise<TrainedModel> {
    const dir = mkdtempSync(join(tmpdir(), 'mlipv-trainer-'));
    const train = join(dir, 'train.xyz');
    const model = join(dir, 'model');
    const sub = (x: string) => x.replaceAll('{train}', train).replaceAll('{model}', model).replaceAll('{dir}', dir);
    try {
      writeExtxyz(train, set);
      const argv = splitCommand(this.spec.command).map(sub);
      const t0 = performance.now();
      const { code, output } = await run(argv, dir, this.spec.timeoutMs ?? 3_600_000);
      this.lastRun = { argv, code, seconds: (performance.now() - t0) / 1000, output: output.slice(-2000) };
      if (code !== 0) {
        throw new EngineError('client-exited', `trainer command failed (exit ${code}): ${argv.join(' ')}\n${output.trim().slice(-1500)}`, {
          argv,
          code,
        });
      }
      const pot = this.loadModel(model, sub);
      assertSitePotential(pot, `trainer ${this.name}: model engine`);
      return {
        potential: pot,
        report: { trainer: this.name, argv, seconds: this.lastRun.seconds, output: this.lastRun.output, modelEngine: typeof this.spec.engine === 'string' ? sub(this.spec.engine) : 'function' },
      };
    } finally {
      // The model may be read lazily by an engine (LAMMPS reads its files when it starts): keep the directory while
      // engines are open; it is removed by close().
      this.dirs.push(dir);
    }
  }

  private readonly dirs: string[] = [];

  private loadModel(model: string, sub: (x: string) => string): SitePotential {
    const e = this.spec.engine;
    if (typeof e === 'function') return e(model);
    const spec = sub(e);
    if (spec.startsWith('mlip-json:')) {
      const path = spec.slice('mlip-json:'.length);
      if (!existsSync(path)) throw new EngineError('config', `trainer wrote no model file at ${path}`);
      return parseModel(readFileSync(path, 'utf8'));
    }
    const r = resolveEngine(spec);
    this.opened.push(r);
    return r.pot;
  }

  /** Close engines opened for trained models and remove the working directories (unless keepFiles). */
  async close(): Promise<void> {
    for (const o of this.opened.splice(0)) await o.close();
    if (!this.spec.keepFiles) for (const d of this.dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  }
}

function run(argv: string[], cwd: string, timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolvePromise, reject) => {
    let output = '';
    const p = spawn(argv[0], argv.slice(1), { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (d: Buffer) => {
      output = (output + d.toString('utf8')).slice(-8000);
    };
    p.stdout.on('data', keep);
    p.stderr.on('data', keep);
    const timer = setTimeout(() => {
      p.kill('SIGTERM');
      setTimeout(() => p.kill('SIGKILL'), 2000).unref();
      reject(new EngineError('timeout', `trainer command did not finish within ${timeoutMs} ms: ${argv.join(' ')}`, { argv }));
    }, timeoutMs);
    p.once('error', (e) => {
      clearTimeout(timer);
      reject(new EngineError('spawn', `cannot start trainer command ${argv[0]}: ${e.message}`, { argv }));
    });
    p.once('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, output });
    });
  });
}
