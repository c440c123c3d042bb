/**
 * A fake i-PI client for the ipi-* tests: a real socket client speaking the protocol, computing forces with one of
 * our reference potentials, written independently of src/engines/ipi (its own byte layout code, DataView-based), so
 * a layout or transpose mistake on the server side is not cancelled by the same mistake here. It can inject faults.
 *
 * Also runnable as a process (the engine tests launch it like LAMMPS):
 *   node --import tsx properties/ipi-fake-client.ts '<json FakeClientOptions>'
 */
import { connect, type Socket } from 'node:net';
import { pathToFileURL } from 'node:url';
import { evaluate } from '../src/potentials/evaluate.ts';
import { makePotential } from '../src/potentials/defaults.ts';
import type { SitePotential } from '../src/potentials/types.ts';

export type Fault =
  /** Close the connection after exactly `byte` bytes of our own output. */
  | { kind: 'disconnect'; byte: number }
  /** Replace our n-th header (0-based, counting every header we send) by these 12 bytes. */
  | { kind: 'garbage-header'; header: number; bytes: number[] }
  /** Report natoms + delta in the force reply (and send that many forces). */
  | { kind: 'wrong-natoms'; delta: number }
  /** Put a NaN (or Infinity) into the energy, a force component or a virial component. */
  | { kind: 'nan'; what: 'energy' | 'force' | 'virial'; index: number; value: 'nan' | 'inf' }
  /** Stop answering (socket left open) when about to send our n-th header. */
  | { kind: 'stall'; header: number }
  /** Answer STATUS after POSDATA with READY instead of HAVEDATA. */
  | { kind: 'wrong-status' }
  /** Announce an absurd extra-string length. */
  | { kind: 'huge-extra' };

export interface FakeClientOptions {
  address: { host: string; port: number } | { path: string };
  /** Reference potential (src/potentials/defaults.ts name) and its parameters. */
  potential: string;
  /** What one Bohr / one Hartree are in the potential's units. */
  bohr: number;
  hartree: number;
  /** Dimension of the reference potential: 2 reads the xy plane of the wire frame. */
  dim: 2 | 3;
  /** Answer the first STATUS with NEEDINIT and expect INIT. */
  needInit?: boolean;
  /** 'upper': fill only the upper triangle of the virial, like LAMMPS fix ipi; 'full' (default) like ASE. */
  virialLayout?: 'full' | 'upper';
  fault?: Fault;
  /** Behave correctly for this many evaluations, then inject the fault (byte and header counts restart there). */
  faultAfter?: number;
}

export interface FakeClientRun {
  /** Resolves when the connection is over (EXIT received, server closed, or the fault was injected). */
  done: Promise<{ evaluations: number; gotExit: boolean; init: string | null }>;
  socket: Socket;
}

function hdr(s: string): Uint8Array {
  const b = new Uint8Array(12).fill(32);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
  return b;
}

export function runFakeClient(o: FakeClientOptions, pot: SitePotential = makePotential(o.potential)): FakeClientRun {
  const sock = 'path' in o.address ? connect(o.address.path) : connect(o.address.port, o.address.host);
  sock.setNoDelay(true);
  let inbuf: Buffer = Buffer.alloc(0);
  let written = 0;
  let headersSent = 0;
  let stalled = false;
  let dead = false;
  let evaluations = 0;
  let gotExit = false;
  let init: string | null = null;
  let state: 'needinit' | 'ready' | 'havedata' = o.needInit ? 'needinit' : 'ready';
  let last: { energy: number; forces: Float64Array; virial: Float64Array; n: number } | null = null;
  // The fault is armed after `faultAfter` clean evaluations; `fault` reads as undefined until then.
  let fault: Fault | undefined = (o.faultAfter ?? 0) > 0 ? undefined : o.fault;
  const arm = () => {
    if (!fault && o.fault && evaluations >= (o.faultAfter ?? 0)) {
      fault = o.fault;
      written = 0;
      headersSent = 0;
    }
  };

  let finish!: (v: { evaluations: number; gotExit: boolean; init: string | null }) => void;
  const done = new Promise<{ evaluations: number; gotExit: boolean; init: string | null }>((r) => (finish = r));
  sock.on('close', () => finish({ evaluations, gotExit, init }));
  sock.on('error', () => {});

  const out = (b: Uint8Array) => {
    if (dead || stalled) return;
    if (fault?.kind === 'disconnect' && written + b.length >= fault.byte) {
      const k = fault.byte - written;
      if (k > 0) sock.write(b.subarray(0, k));
      written += Math.max(0, k);
      dead = true;
      sock.end();
      setTimeout(() => sock.destroy(), 50);
      return;
    }
    written += b.length;
    sock.write(b);
  };
  const header = (s: string) => {
    if (fault?.kind === 'stall' && headersSent === fault.header) {
      stalled = true;
      return;
    }
    if (fault?.kind === 'garbage-header' && headersSent === fault.header) {
      headersSent++;
      out(Uint8Array.from(fault.bytes.slice(0, 12).concat(new Array(Math.max(0, 12 - fault.bytes.length)).fill(32))));
      return;
    }
    headersSent++;
    out(hdr(s));
  };

  const compute = (cellH: Float64Array, pos: Float64Array, n: number) => {
    const d = o.dim;
    // Wire h: component i of vector j at 3*i + j. Our structure: rows are vectors.
    const cell = new Float64Array(d * d);
    for (let j = 0; j < d; j++) for (let i = 0; i < d; i++) cell[j * d + i] = cellH[3 * i + j] * o.bohr;
    const x = new Float64Array(n * d);
    for (let p = 0; p < n; p++) for (let i = 0; i < d; i++) x[p * d + i] = pos[3 * p + i] * o.bohr;
    const r = evaluate(pot, { dim: d, positions: x, cell });
    const f = new Float64Array(3 * n);
    for (let p = 0; p < n; p++) for (let i = 0; i < d; i++) f[3 * p + i] = (r.forces[p * d + i] * o.bohr) / o.hartree;
    const v = new Float64Array(9);
    for (let i = 0; i < d; i++)
      for (let j = 0; j < d; j++) {
        if (o.virialLayout === 'upper' && j < i) continue;
        v[3 * i + j] = r.virial[i * d + j] / o.hartree;
      }
    last = { energy: r.energy / o.hartree, forces: f, virial: v, n };
    evaluations++;
  };

  const sendForces = () => {
    const l = last!;
    let n = l.n;
    if (fault?.kind === 'wrong-natoms') n = Math.max(0, l.n + fault.delta);
    const extra = new TextEncoder().encode('{"fake":true}');
    const b = new ArrayBuffer(8 + 4 + 24 * n + 72 + 4 + extra.length);
    const dv = new DataView(b);
    let e = l.energy;
    const f = new Float64Array(3 * n);
    f.set(l.forces.subarray(0, Math.min(3 * n, l.forces.length)));
    const v = Float64Array.from(l.virial);
    if (fault?.kind === 'nan') {
      const bad = fault.value === 'nan' ? NaN : Infinity;
      if (fault.what === 'energy') e = bad;
      else if (fault.what === 'force') f[fault.index % Math.max(1, f.length)] = bad;
      else v[fault.index % 9] = bad;
    }
    let q = 0;
    dv.setFloat64(q, e, true);
    q += 8;
    dv.setInt32(q, n, true);
    q += 4;
    for (let i = 0; i < 3 * n; i++, q += 8) dv.setFloat64(q, f[i], true);
    for (let i = 0; i < 9; i++, q += 8) dv.setFloat64(q, v[i], true);
    dv.setInt32(q, fault?.kind === 'huge-extra' ? 0x7fffff00 : extra.length, true);
    q += 4;
    new Uint8Array(b, q).set(fault?.kind === 'huge-extra' ? new Uint8Array(extra.length) : extra);
    header('FORCEREADY');
    out(new Uint8Array(b));
  };

  // Parse as many complete server messages as are buffered.
  const parse = () => {
    for (;;) {
      if (dead || stalled || inbuf.length < 12) return;
      const h = inbuf.toString('ascii', 0, 12).trimEnd();
      if (h === 'STATUS') {
        inbuf = inbuf.subarray(12);
        if (state === 'needinit') header('NEEDINIT');
        else if (state === 'havedata') header(fault?.kind === 'wrong-status' ? 'READY' : 'HAVEDATA');
        else header('READY');
      } else if (h === 'INIT') {
        if (inbuf.length < 20) return;
        const len = inbuf.readInt32LE(16);
        if (inbuf.length < 20 + len) return;
        init = inbuf.toString('utf8', 20, 20 + len);
        inbuf = inbuf.subarray(20 + len);
        state = 'ready';
      } else if (h === 'POSDATA') {
        if (inbuf.length < 12 + 148) return;
        const n = inbuf.readInt32LE(12 + 144);
        const need = 12 + 148 + 24 * n;
        if (inbuf.length < need) return;
        const dv = new DataView(inbuf.buffer, inbuf.byteOffset, need);
        const cellH = new Float64Array(9);
        for (let i = 0; i < 9; i++) cellH[i] = dv.getFloat64(12 + 8 * i, true);
        const pos = new Float64Array(3 * n);
        for (let i = 0; i < 3 * n; i++) pos[i] = dv.getFloat64(12 + 148 + 8 * i, true);
        inbuf = inbuf.subarray(need);
        compute(cellH, pos, n);
        state = 'havedata';
      } else if (h === 'GETFORCE') {
        inbuf = inbuf.subarray(12);
        sendForces();
        state = 'ready';
        arm();
      } else if (h === 'EXIT') {
        gotExit = true;
        dead = true;
        sock.end();
        return;
      } else {
        dead = true;
        sock.destroy(new Error(`fake client: unknown server message ${JSON.stringify(h)}`));
        return;
      }
    }
  };
  sock.on('data', (d: Buffer) => {
    inbuf = inbuf.length ? Buffer.concat([inbuf, d]) : d;
    parse();
  });
  return { done, socket: sock };
}

// Process entry point (used when a test launches the client like an external engine).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const o = JSON.parse(process.argv[2]) as FakeClientOptions;
  const delay = Number(process.argv[3] ?? 0);
  setTimeout(() => {
    const run = runFakeClient(o);
    void run.done.then((r) => {
      process.exitCode = r.gotExit ? 0 : 3;
    });
  }, delay);
}
