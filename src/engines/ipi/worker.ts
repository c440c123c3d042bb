/**
 * Worker-thread side of IpiPotential: owns the i-PI server socket, the client connection and (optionally) the
 * client process. It exists because SitePotential.evaluate is synchronous (the relaxation solvers and the checks
 * call it in tight loops) while sockets are asynchronous: the main thread posts a request and blocks in
 * Atomics.wait; this thread does the I/O on its own event loop, posts the answer, and bumps the shared counter.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { workerData, type MessagePort } from 'node:worker_threads';
import { EngineError } from '../errors.ts';
import type { ErrorData, FromWorker, LaunchSpec, ToWorker, WorkerInit } from './messages.ts';
import { raceExit } from './race.ts';
import { IpiServer, type IpiConnection } from './server.ts';

const { port, ctrl, init } = workerData as { port: MessagePort; ctrl: SharedArrayBuffer; init: WorkerInit };
const counter = new Int32Array(ctrl);

function reply(m: FromWorker): void {
  port.postMessage(m);
  Atomics.add(counter, 0, 1);
  Atomics.notify(counter, 0);
}

function toData(e: unknown): ErrorData {
  if (e instanceof EngineError) return { kind: e.kind, message: e.message, details: e.details };
  const err = e as Error;
  return { kind: 'disconnected', message: `unexpected failure in the i-PI worker: ${err?.stack ?? String(e)}` };
}

/** Last `max` bytes of a file, for error reports. */
function tail(path: string | undefined, max = 3000): string {
  if (!path || !existsSync(path)) return '';
  const size = statSync(path).size;
  const n = Math.min(size, max);
  const b = Buffer.alloc(n);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, b, 0, n, size - n);
  } finally {
    closeSync(fd);
  }
  return b.toString('utf8');
}

class Client {
  readonly proc: ChildProcess;
  output = '';
  exit: { code: number | null; signal: string | null } | null = null;
  readonly exited: Promise<void>;
  /** Called once when the process exits (raceExit's listeners; each removes itself when its call settles). */
  readonly onExit = new Set<() => void>();
  constructor(readonly spec: LaunchSpec) {
    this.proc = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      env: { ...process.env, ...(spec.env ?? {}) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (d: Buffer) => {
      this.output = (this.output + d.toString('utf8')).slice(-4000);
    };
    this.proc.stdout?.on('data', keep);
    this.proc.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => {
      const done = () => {
        resolve();
        for (const f of [...this.onExit]) f();
        this.onExit.clear();
      };
      this.proc.once('exit', (code, signal) => {
        this.exit = { code, signal };
        done();
      });
      this.proc.once('error', (e) => {
        this.output += `\n${e.message}`;
        this.exit = { code: null, signal: null };
        done();
      });
    });
  }
  error(): EngineError {
    const log = tail(this.spec.logFile) || this.output;
    const how = this.exit?.signal ? `signal ${this.exit.signal}` : `exit code ${this.exit?.code}`;
    return new EngineError('client-exited', `engine process '${this.spec.command}' exited (${how}); last output:\n${log.trim()}`, {
      command: [this.spec.command, ...this.spec.args].join(' '),
      code: this.exit?.code ?? null,
      signal: this.exit?.signal ?? null,
      log: log.slice(-2000),
    });
  }
  /** Stop our own child: it should have left after EXIT; otherwise SIGTERM, then SIGKILL. */
  async stop(): Promise<void> {
    if (this.exit) return;
    const wait = (ms: number) => Promise.race([this.exited, new Promise((r) => setTimeout(r, ms))]);
    await wait(2000);
    if (!this.exit) this.proc.kill('SIGTERM');
    await wait(2000);
    if (!this.exit) this.proc.kill('SIGKILL');
    await this.exited;
  }
}

let server: IpiServer;
let client: Client | null = null;
let conn: IpiConnection | null = null;

async function compute(m: Extract<ToWorker, { op: 'compute' }>): Promise<void> {
  try {
    const race = <T>(p: Promise<T>) => raceExit(p, client);
    if (!conn || conn.isClosed) conn = await race(server.accept());
    const r = await race(conn.compute(m.frame, m.timeoutMs));
    reply({ op: 'compute', id: m.id, ok: true, reply: r, clientEvaluations: conn.evaluations });
  } catch (e) {
    let err = e;
    // A dying client usually shows up first as a closed socket; give its exit a moment so the error says why.
    if (client && e instanceof EngineError && e.kind === 'disconnected') {
      await Promise.race([client.exited, new Promise((r) => setTimeout(r, 1000))]);
      if (client.exit) err = client.error();
    }
    reply({ op: 'compute', id: m.id, ok: false, error: toData(err) });
  }
}

async function main(): Promise<void> {
  try {
    server = await IpiServer.listen(init.server);
  } catch (e) {
    reply({ op: 'listening', ok: false, error: toData(e) });
    port.close();
    return;
  }
  if (init.launch) {
    try {
      // The address is known only now (port 0 = any free port): substitute it into the client's arguments.
      const a = server.address;
      const sub = (x: string) =>
        x
          .replaceAll('{port}', a.kind === 'tcp' ? String(a.port) : '')
          .replaceAll('{host}', a.kind === 'tcp' ? a.host : '')
          .replaceAll('{unix}', a.kind === 'unix' ? a.path : '');
      client = new Client({ ...init.launch, args: init.launch.args.map(sub) });
    } catch (e) {
      await server.close();
      reply({ op: 'listening', ok: false, error: { kind: 'spawn', message: `cannot start ${init.launch.command}: ${(e as Error).message}` } });
      port.close();
      return;
    }
  }
  reply({ op: 'listening', ok: true, address: server.address, clientPid: client?.proc.pid });
  let queue = Promise.resolve();
  port.on('message', (m: ToWorker) => {
    queue = queue.then(async () => {
      if (m.op === 'compute') await compute(m);
      else if (m.op === 'close') {
        await server.close();
        if (client) await client.stop();
        reply({ op: 'close', id: m.id, ok: true, clientExit: client?.exit ?? null });
        port.close();
      }
    });
  });
}

void main();
