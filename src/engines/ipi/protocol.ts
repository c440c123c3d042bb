import type { Socket } from 'node:net';
import { EngineError } from '../errors.ts';

/**
 * The i-PI socket protocol, as its clients speak it (LAMMPS `fix ipi`, ASE's SocketIOCalculator/SocketClient, the
 * i-PI driver). Every message starts with a 12-byte ASCII header, space-padded. Numbers are raw C types in the
 * machine's byte order; every client in practice runs on little-endian hardware, so we read and write little-endian
 * explicitly rather than "native", which would make this module's output depend on where it runs.
 *
 * The exchange for one evaluation (server = us):
 *   S: STATUS            C: READY | NEEDINIT     (NEEDINIT -> S: INIT int32 bead, int32 len, len bytes; then STATUS)
 *   S: POSDATA  9 f64 cell h, 9 f64 inverse cell, int32 natoms, 3*natoms f64 positions   (all in Bohr)
 *   S: STATUS            C: HAVEDATA
 *   S: GETFORCE          C: FORCEREADY f64 energy (Hartree), int32 natoms, 3*natoms f64 forces (Hartree/Bohr),
 *                           9 f64 virial (Hartree), int32 len, len bytes of an "extra" string (JSON by convention)
 *   S: EXIT              (at the end; the client leaves)
 *
 * Cell convention on the wire: i-PI keeps the cell as a matrix h whose COLUMNS are the cell vectors (upper
 * triangular in i-PI itself) and sends h in C order, so wire[3*i + j] = component i of cell vector j. ASE sends
 * `cell.T` (its cell has vectors as rows) and LAMMPS reads wire[1], wire[2], wire[5] as the tilt factors xy, xz, yz,
 * which are the x component of b, the x component of c and the y component of c: both agree with this. The inverse
 * cell is inv(h) in C order, as i-PI sends it (ASE's client side ignores it; LAMMPS ignores it too).
 */
export const HEADER_LENGTH = 12;

export const SERVER_MESSAGES = ['STATUS', 'INIT', 'POSDATA', 'GETFORCE', 'EXIT'] as const;
export const CLIENT_MESSAGES = ['READY', 'HAVEDATA', 'NEEDINIT', 'FORCEREADY'] as const;
export type ServerMessage = (typeof SERVER_MESSAGES)[number];
export type ClientMessage = (typeof CLIENT_MESSAGES)[number];
export type IpiMessage = ServerMessage | ClientMessage;
const ALL_MESSAGES: readonly string[] = [...SERVER_MESSAGES, ...CLIENT_MESSAGES];

/** Largest "extra" string we accept from a client (the protocol leaves it unbounded; a garbage length must not make
 * us allocate gigabytes). */
export const MAX_EXTRA_BYTES = 1 << 20;
/** Largest atom count we accept in a reply header before any check against what we sent (same reason). */
export const MAX_ATOMS = 1 << 24;

export function encodeHeader(m: IpiMessage): Buffer {
  const b = Buffer.alloc(HEADER_LENGTH, 0x20);
  b.write(m, 0, 'ascii');
  return b;
}

/**
 * The message a 12-byte header carries, or null if it is not a protocol word. Padding may be spaces (what every
 * client sends) or NULs (what a C client that forgot to pad would send); anything else, lower case included, is
 * malformed: i-PI itself compares the padded upper-case bytes exactly.
 */
export function decodeHeader(b: Buffer): IpiMessage | null {
  if (b.length !== HEADER_LENGTH) return null;
  let end = HEADER_LENGTH;
  while (end > 0 && (b[end - 1] === 0x20 || b[end - 1] === 0x00)) end--;
  for (let i = 0; i < end; i++) if (b[i] < 0x41 || b[i] > 0x5a) return null;
  const s = b.toString('ascii', 0, end);
  return ALL_MESSAGES.includes(s) ? (s as IpiMessage) : null;
}

/** Printable rendering of a header for error messages (non-printable bytes as \xNN). */
export function showBytes(b: Buffer): string {
  let s = '';
  for (const c of b) s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, '0')}`;
  return JSON.stringify(s);
}

/** One geometry on the wire, already in atomic units and wire order (see the module comment). */
export interface WireFrame {
  /** h in C order: wire[3*i + j] = component i of cell vector j (Bohr). */
  readonly cellH: Float64Array;
  /** inv(h) in C order (1/Bohr). */
  readonly cellIH: Float64Array;
  /** 3 * natoms positions (Bohr), atom-major. */
  readonly positions: Float64Array;
  /**
   * INIT string for this frame, sent if the client asks NEEDINIT before it (ASE-style clients ask before every
   * frame). Default: the server's initString. The ASE engine uses it to say which directions are periodic.
   */
  readonly init?: string;
}

export function encodePosdata(f: WireFrame): Buffer {
  if (f.cellH.length !== 9 || f.cellIH.length !== 9 || f.positions.length % 3 !== 0) {
    throw new EngineError('bad-size', 'POSDATA needs a 9-entry cell, a 9-entry inverse cell and 3*natoms positions');
  }
  const n = f.positions.length / 3;
  const b = Buffer.alloc(HEADER_LENGTH + 72 + 72 + 4 + 8 * 3 * n);
  encodeHeader('POSDATA').copy(b, 0);
  let o = HEADER_LENGTH;
  for (let i = 0; i < 9; i++, o += 8) b.writeDoubleLE(f.cellH[i], o);
  for (let i = 0; i < 9; i++, o += 8) b.writeDoubleLE(f.cellIH[i], o);
  b.writeInt32LE(n, o);
  o += 4;
  for (let i = 0; i < 3 * n; i++, o += 8) b.writeDoubleLE(f.positions[i], o);
  return b;
}

export function encodeInit(bead: number, init: string): Buffer {
  const s = Buffer.from(init, 'utf8');
  const b = Buffer.alloc(HEADER_LENGTH + 8 + s.length);
  encodeHeader('INIT').copy(b, 0);
  b.writeInt32LE(bead, HEADER_LENGTH);
  b.writeInt32LE(s.length, HEADER_LENGTH + 4);
  s.copy(b, HEADER_LENGTH + 8);
  return b;
}

/** What a client returns after GETFORCE, still in atomic units and wire order. */
export interface ForceReply {
  energy: number;
  /** 3 * natoms forces (Hartree/Bohr). */
  forces: Float64Array;
  /** The 9 virial numbers as sent (Hartree), C order. */
  virial: Float64Array;
  extra: string;
}

/**
 * Buffered reads of exact byte counts from a stream socket, each with a deadline. TCP delivers bytes, not messages,
 * so a 12-byte header can arrive in pieces or glued to the data after it; this is the one place that deals with
 * that. Every failure is an EngineError naming what we were waiting for and how many bytes we had.
 */
export class SocketReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private consumed = 0;
  private closed = false;
  private closeReason: string | null = null;
  private pending: { n: number; resolve: (b: Buffer) => void; reject: (e: Error) => void; what: string } | null = null;
  private readonly onData = (d: Buffer) => {
    this.chunks.push(d);
    this.buffered += d.length;
    if (this.buffered > this.maxBuffered) {
      this.fail(
        new EngineError('bad-size', `client sent ${this.buffered} unrequested bytes (more than ${this.maxBuffered}); stopping`, {
          atByte: this.consumed,
        }),
      );
      return;
    }
    this.pump();
  };
  private readonly onEnd = () => this.markClosed('the client closed the connection');
  private readonly onError = (e: Error) => this.markClosed(`socket error: ${e.message}`);

  constructor(
    private readonly socket: Socket,
    private readonly maxBuffered = 256 * 1024 * 1024,
  ) {
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
    socket.on('error', this.onError);
  }

  /** Bytes handed out so far (where in the stream a fault happened). */
  get position(): number {
    return this.consumed;
  }

  private markClosed(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason = reason;
    this.pump();
  }

  private fail(e: Error): void {
    this.closed = true;
    this.closeReason = e.message;
    const p = this.pending;
    this.pending = null;
    if (p) p.reject(e);
  }

  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.buffered);
    const out = Buffer.from(all.subarray(0, n));
    const rest = all.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered -= n;
    this.consumed += n;
    return out;
  }

  private pump(): void {
    const p = this.pending;
    if (!p) return;
    if (this.buffered >= p.n) {
      this.pending = null;
      p.resolve(this.take(p.n));
    } else if (this.closed) {
      this.pending = null;
      p.reject(
        new EngineError(
          'disconnected',
          `client disconnected while the server waited for ${p.what} (${this.buffered} of ${p.n} bytes received, ` +
            `${this.consumed + this.buffered} bytes into the stream): ${this.closeReason}`,
          { waitingFor: p.what, atByte: this.consumed + this.buffered, received: this.buffered, expected: p.n },
        ),
      );
    }
  }

  /** Exactly n bytes, or an EngineError ('disconnected' or 'timeout'). One read at a time. */
  read(n: number, timeoutMs: number, what: string): Promise<Buffer> {
    if (this.pending) return Promise.reject(new Error('SocketReader: concurrent reads'));
    return new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.pending?.resolve !== done) return;
        this.pending = null;
        reject(
          new EngineError(
            'timeout',
            `client did not send ${what} within ${timeoutMs} ms (${this.buffered} of ${n} bytes received)`,
            { waitingFor: what, timeoutMs, atByte: this.consumed + this.buffered },
          ),
        );
      }, timeoutMs);
      const done = (b: Buffer) => {
        clearTimeout(timer);
        resolve(b);
      };
      this.pending = {
        n,
        what,
        resolve: done,
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.pump();
    });
  }

  async header(timeoutMs: number, what: string): Promise<IpiMessage> {
    const at = this.consumed;
    const b = await this.read(HEADER_LENGTH, timeoutMs, what);
    const m = decodeHeader(b);
    if (m === null) {
      throw new EngineError('malformed-header', `malformed header ${showBytes(b)} from the client (expected ${what}) at byte ${at}`, {
        header: showBytes(b),
        atByte: at,
      });
    }
    return m;
  }

  async int32(timeoutMs: number, what: string): Promise<number> {
    return (await this.read(4, timeoutMs, what)).readInt32LE(0);
  }

  async float64s(count: number, timeoutMs: number, what: string): Promise<Float64Array> {
    const b = await this.read(8 * count, timeoutMs, what);
    const out = new Float64Array(count);
    for (let i = 0; i < count; i++) out[i] = b.readDoubleLE(8 * i);
    return out;
  }

  detach(): void {
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onEnd);
    this.socket.off('error', this.onError);
    this.fail(new EngineError('closed', 'connection closed by the server'));
  }
}
