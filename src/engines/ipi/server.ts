import { existsSync, lstatSync, unlinkSync } from 'node:fs';
import { createServer, isIPv4, isIPv6, type AddressInfo, type Server, type Socket } from 'node:net';
import { EngineError } from '../errors.ts';
import {
  MAX_EXTRA_BYTES,
  SocketReader,
  encodeHeader,
  encodeInit,
  encodePosdata,
  type ForceReply,
  type WireFrame,
} from './protocol.ts';

/** Where the server listens: TCP host:port, or a UNIX socket path. */
export type IpiAddress = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

export interface IpiServerOptions {
  /** TCP host (default 127.0.0.1). Anything but a loopback address needs allowRemote. */
  host?: string;
  /** TCP port; 0 (default) picks a free one, read it back from address(). */
  port?: number;
  /** Listen on this UNIX socket path instead of TCP. (LAMMPS `fix ipi ... unix` connects to /tmp/ipi_<name>.) */
  unixPath?: string;
  /**
   * Allow a non-loopback host. Off by default because the protocol has no authentication: whoever connects first
   * becomes the engine whose numbers we verify, and we send it our geometries.
   */
  allowRemote?: boolean;
  /** How long accept() waits for a client (ms). */
  acceptTimeoutMs?: number;
  /** How long any single reply of the client may take (ms): a stalled client ends the run after this. */
  responseTimeoutMs?: number;
  /** INIT string sent to a client that answers NEEDINIT, and its bead index. */
  initString?: string;
  bead?: number;
}

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '::1']);
export function isLoopback(host: string): boolean {
  if (LOOPBACK_NAMES.has(host)) return true;
  if (isIPv4(host)) return host.startsWith('127.');
  if (isIPv6(host)) return host === '::1' || host.startsWith('::ffff:127.');
  return false;
}

export const DEFAULT_ACCEPT_TIMEOUT_MS = 60_000;
export const DEFAULT_RESPONSE_TIMEOUT_MS = 120_000;
/** How long a client gets to close its side after EXIT before we destroy the socket. */
export const EXIT_GRACE_MS = 500;

/**
 * An i-PI server for one client at a time. Why one: verification needs a deterministic sequence of evaluations from
 * one engine; i-PI's multi-client dispatch is for throughput, which we do not need. A second connection while a
 * client is attached is refused (closed at once) and counted.
 *
 * Lifecycle: listen() -> accept() -> compute()* -> close(). Every failure path closes the client socket; close()
 * also closes the listener and unlinks the UNIX socket file, and is idempotent, so callers can put it in `finally`.
 */
export class IpiServer {
  private client: IpiConnection | null = null;
  private waiting: { resolve: (c: IpiConnection) => void; reject: (e: Error) => void; timer: NodeJS.Timeout } | null = null;
  private closed = false;
  private readonly openSockets = new Set<Socket>();
  /** Connections refused because a client was already attached. */
  refused = 0;

  private constructor(
    private readonly server: Server,
    readonly address: IpiAddress,
    readonly options: IpiServerOptions,
  ) {
    server.on('connection', (s) => this.onConnection(s));
  }

  static async listen(opts: IpiServerOptions = {}): Promise<IpiServer> {
    const server = createServer({ allowHalfOpen: false });
    server.maxConnections = 4;
    if (opts.unixPath !== undefined) {
      const p = opts.unixPath;
      if (Buffer.byteLength(p) > 107) throw new EngineError('listen', `UNIX socket path is too long (${Buffer.byteLength(p)} > 107 bytes): ${p}`);
      if (existsSync(p)) {
        // Like i-PI: never remove a file we did not create; a stale socket is the user's to delete.
        const what = lstatSync(p).isSocket() ? 'a socket (stale, or in use by another server)' : 'not a socket';
        throw new EngineError('listen', `cannot listen on ${p}: the path exists and is ${what}; remove it if unused`, { path: p });
      }
      await listenOn(server, { path: p });
      return new IpiServer(server, { kind: 'unix', path: p }, opts);
    }
    const host = opts.host ?? '127.0.0.1';
    if (!isLoopback(host) && !opts.allowRemote) {
      throw new EngineError(
        'listen',
        `refusing to listen on non-loopback host '${host}': the i-PI protocol has no authentication; pass allowRemote ` +
          `(CLI: --allow-remote) if you really mean it`,
        { host },
      );
    }
    const port = opts.port ?? 0;
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new EngineError('config', `invalid TCP port ${port}`);
    await listenOn(server, { host, port });
    const a = server.address() as AddressInfo;
    return new IpiServer(server, { kind: 'tcp', host, port: a.port }, opts);
  }

  get acceptTimeoutMs(): number {
    return this.options.acceptTimeoutMs ?? DEFAULT_ACCEPT_TIMEOUT_MS;
  }

  get responseTimeoutMs(): number {
    return this.options.responseTimeoutMs ?? DEFAULT_RESPONSE_TIMEOUT_MS;
  }

  describeAddress(): string {
    return this.address.kind === 'unix' ? `unix:${this.address.path}` : `${this.address.host}:${this.address.port}`;
  }

  private onConnection(s: Socket): void {
    this.openSockets.add(s);
    s.on('close', () => this.openSockets.delete(s));
    s.on('error', () => {});
    if (this.closed || this.client) {
      this.refused++;
      s.destroy();
      return;
    }
    const remote = s.remoteAddress;
    if (this.address.kind === 'tcp' && !this.options.allowRemote && remote && !isLoopback(remote)) {
      this.refused++;
      s.destroy();
      return;
    }
    s.setNoDelay(true);
    const c = new IpiConnection(s, this);
    this.client = c;
    const w = this.waiting;
    if (w) {
      this.waiting = null;
      clearTimeout(w.timer);
      w.resolve(c);
    }
  }

  /** @internal called by the connection when it closes. */
  released(c: IpiConnection): void {
    if (this.client === c) this.client = null;
  }

  /** The attached client, waiting up to timeoutMs for one to connect. */
  accept(timeoutMs = this.acceptTimeoutMs): Promise<IpiConnection> {
    if (this.closed) return Promise.reject(new EngineError('closed', 'i-PI server is closed'));
    if (this.client && !this.client.isClosed) return Promise.resolve(this.client);
    if (this.waiting) return Promise.reject(new Error('IpiServer.accept: already waiting'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = null;
        reject(
          new EngineError('timeout', `no i-PI client connected to ${this.describeAddress()} within ${timeoutMs} ms`, {
            address: this.describeAddress(),
            timeoutMs,
          }),
        );
      }, timeoutMs);
      this.waiting = { resolve, reject, timer };
    });
  }

  /** Send EXIT to the client (if any), close every socket and the listener, unlink the UNIX socket. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const w = this.waiting;
    if (w) {
      this.waiting = null;
      clearTimeout(w.timer);
      w.reject(new EngineError('closed', 'i-PI server closed while waiting for a client'));
    }
    if (this.client) await this.client.close(true);
    for (const s of this.openSockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
    if (this.address.kind === 'unix' && existsSync(this.address.path)) {
      try {
        unlinkSync(this.address.path);
      } catch {
        /* already gone */
      }
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Sockets currently open on this server (0 after close(): the tests' leak check). */
  get openSocketCount(): number {
    return this.openSockets.size;
  }
}

function listenOn(server: Server, opts: { host?: string; port?: number; path?: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      server.close();
      reject(new EngineError('listen', `cannot listen on ${opts.path ?? `${opts.host}:${opts.port}`}: ${e.message}`, { code: e.code }));
    };
    server.once('error', onError);
    server.listen(opts, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/**
 * One attached client. compute() runs the STATUS/POSDATA/STATUS/GETFORCE exchange and validates the reply; any
 * fault (disconnect, malformed or unexpected header, wrong natoms, NaN, stall) closes the connection and rejects
 * with an EngineError, because after a fault the byte stream can no longer be trusted to be in step.
 */
export class IpiConnection {
  private readonly reader: SocketReader;
  private closed = false;
  private busy = false;
  private initialised = false;
  /** Evaluations completed on this connection. */
  evaluations = 0;

  constructor(
    private readonly socket: Socket,
    private readonly server: IpiServer,
  ) {
    this.reader = new SocketReader(socket);
    socket.on('close', () => {
      this.closed = true;
      this.server.released(this);
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private send(b: Buffer): void {
    if (this.closed || this.socket.destroyed) throw new EngineError('disconnected', 'client connection is closed');
    this.socket.write(b);
  }

  /** One evaluation; `timeoutMs` bounds each reply (default: the server's responseTimeoutMs). */
  async compute(frame: WireFrame, timeoutMs?: number): Promise<ForceReply> {
    if (this.closed) throw new EngineError('closed', 'client connection is closed (an earlier fault ended it)');
    if (this.busy) throw new Error('IpiConnection.compute: concurrent calls');
    this.busy = true;
    try {
      return await this.exchange(frame, timeoutMs);
    } catch (e) {
      await this.close(false);
      throw e;
    } finally {
      this.busy = false;
    }
  }

  private async exchange(frame: WireFrame, timeoutMs?: number): Promise<ForceReply> {
    const t = timeoutMs ?? this.server.responseTimeoutMs;
    const r = this.reader;
    const natoms = frame.positions.length / 3;
    // 1. STATUS until READY, initialising once if asked.
    for (let attempt = 0; ; attempt++) {
      this.send(encodeHeader('STATUS'));
      const m = await r.header(t, 'the reply to STATUS (READY or NEEDINIT)');
      if (m === 'READY') break;
      if (m === 'NEEDINIT' && attempt === 0) {
        this.send(encodeInit(this.server.options.bead ?? 0, frame.init ?? this.server.options.initString ?? ' '));
        this.initialised = true;
        continue;
      }
      throw new EngineError('unexpected-message', `client answered STATUS with ${m} (expected READY${attempt === 0 ? ' or NEEDINIT' : ' after INIT'})`, {
        got: m,
        atByte: r.position - 12,
      });
    }
    // 2. Geometry.
    this.send(encodePosdata(frame));
    // 3. STATUS until HAVEDATA. A client that is still computing simply answers late (bounded by the timeout).
    this.send(encodeHeader('STATUS'));
    const h = await r.header(t, 'the reply to STATUS after POSDATA (HAVEDATA)');
    if (h !== 'HAVEDATA') {
      throw new EngineError('unexpected-message', `client answered STATUS after POSDATA with ${h} (expected HAVEDATA)`, {
        got: h,
        atByte: r.position - 12,
      });
    }
    // 4. Results.
    this.send(encodeHeader('GETFORCE'));
    const f = await r.header(t, 'FORCEREADY');
    if (f !== 'FORCEREADY') {
      throw new EngineError('unexpected-message', `client answered GETFORCE with ${f} (expected FORCEREADY)`, { got: f, atByte: r.position - 12 });
    }
    const energy = (await r.float64s(1, t, 'the energy'))[0];
    const at = r.position;
    const n = await r.int32(t, 'the atom count of the forces');
    if (n !== natoms) {
      throw new EngineError('bad-size', `client returned forces for ${n} atoms, but ${natoms} were sent (at byte ${at})`, {
        sent: natoms,
        got: n,
        atByte: at,
      });
    }
    const forces = await r.float64s(3 * n, t, `${3 * n} force components`);
    const virial = await r.float64s(9, t, 'the 9 virial components');
    const atx = r.position;
    const len = await r.int32(t, 'the length of the extra string');
    if (len < 0 || len > MAX_EXTRA_BYTES) {
      throw new EngineError('bad-size', `client announced an extra string of ${len} bytes (allowed 0..${MAX_EXTRA_BYTES}) at byte ${atx}`, {
        got: len,
        atByte: atx,
      });
    }
    const extra = len > 0 ? (await r.read(len, t, 'the extra string')).toString('utf8') : '';
    checkFinite(energy, forces, virial);
    this.evaluations++;
    return { energy, forces, virial, extra };
  }

  /**
   * Close the connection; with exit, first tell the client to leave (EXIT), as i-PI does at the end of a run. Resolves
   * once the socket is closed: at most EXIT_GRACE_MS after EXIT, then it is destroyed whatever the client does.
   */
  close(exit: boolean): Promise<void> {
    const s = this.socket;
    const done = new Promise<void>((resolve) => {
      if (s.destroyed) resolve();
      else s.once('close', () => resolve());
    });
    if (this.closed && s.destroyed) return done;
    this.closed = true;
    this.reader.detach();
    if (exit && !s.destroyed && s.writable) {
      try {
        s.end(encodeHeader('EXIT'));
      } catch {
        /* the client is gone already */
      }
      const timer = setTimeout(() => s.destroy(), EXIT_GRACE_MS);
      s.once('close', () => clearTimeout(timer));
    } else {
      s.destroy();
    }
    this.server.released(this);
    return done;
  }

  get initSent(): boolean {
    return this.initialised;
  }
}

function checkFinite(energy: number, forces: Float64Array, virial: Float64Array): void {
  if (!Number.isFinite(energy)) throw new EngineError('non-finite', `client returned a non-finite energy (${energy})`, { what: 'energy' });
  for (let i = 0; i < forces.length; i++) {
    if (!Number.isFinite(forces[i])) {
      const atom = Math.floor(i / 3);
      throw new EngineError('non-finite', `client returned a non-finite force on atom ${atom} (component ${i % 3}: ${forces[i]})`, {
        what: 'force',
        atom,
        component: i % 3,
      });
    }
  }
  for (let i = 0; i < 9; i++) {
    if (!Number.isFinite(virial[i])) {
      throw new EngineError('non-finite', `client returned a non-finite virial component ${i} (${virial[i]})`, { what: 'virial', component: i });
    }
  }
}
