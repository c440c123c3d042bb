/**
 * Progress of a long report run on stderr. On a terminal: the current study (i/n), its latest message (e.g. the
 * domain size being relaxed) and the elapsed times, rewritten in place on one line, and a line per finished study.
 * Off a terminal (a CI log, a pipe), where rewriting a line is noise and silence looks like a hang: one plain line
 * per finished study, and one per progress message (a point of the study) once that study has run for longer than
 * a minute. `--quiet` (enabled = false) silences both.
 *
 * ProgressSink is what a runner calls; studies are numbered 1..n and every call may name its study, so a runner that
 * runs studies concurrently (worker threads) can report each one's messages and its end as they arrive.
 */
export interface ProgressSink {
  /** Study i of n starts. */
  study(i: number, n: number, name: string): void;
  /** A line of progress from study i (default: the study started last). */
  message(msg: string, i?: number): void;
  /** Study i (default: the study started last) finished with this verdict text. */
  finished(verdict: string, i?: number): void;
  /** Every study finished: clear the status line. */
  done(): void;
}

export interface ProgressOptions {
  /** Off a terminal, per-point lines start once a study has run this long (default 60 s). */
  pointLinesAfterSeconds?: number;
  /** Milliseconds clock (default performance.now), so tests can move time. */
  now?: () => number;
}

interface Running {
  name: string;
  n: number;
  start: number;
}

export class Progress implements ProgressSink {
  private readonly now: () => number;
  private readonly t0: number;
  private readonly running = new Map<number, Running>();
  private last = 0;
  private readonly mode: 'bar' | 'lines' | 'off';
  private readonly pointAfterMs: number;

  /** `enabled` false: silent (--quiet); otherwise a bar on a terminal, plain lines elsewhere. */
  constructor(private readonly stream: NodeJS.WriteStream = process.stderr, enabled?: boolean, opts: ProgressOptions = {}) {
    this.now = opts.now ?? (() => performance.now());
    this.t0 = this.now();
    this.mode = enabled === false ? 'off' : stream.isTTY ? 'bar' : 'lines';
    this.pointAfterMs = 1000 * (opts.pointLinesAfterSeconds ?? 60);
  }

  private secs(from: number): string {
    return `${((this.now() - from) / 1000).toFixed(1)}s`;
  }

  private label(i: number): string {
    const r = this.running.get(i);
    return r ? `study ${i}/${r.n} ${r.name}` : `study ${i}`;
  }

  private status(i: number, msg: string): void {
    const r = this.running.get(i);
    const cols = this.stream.columns || 120;
    const line = `[${this.secs(this.t0)}] ${this.label(i)} (${r ? this.secs(r.start) : '?'}) ${msg}`.replace(/\s+/g, ' ');
    this.stream.write(`\r\x1b[2K${line.slice(0, cols - 1)}`);
  }

  study(i: number, n: number, name: string): void {
    this.running.set(i, { name, n, start: this.now() });
    this.last = i;
    if (this.mode === 'bar') this.status(i, 'starting');
  }

  message(msg: string, i: number = this.last): void {
    if (this.mode === 'bar') this.status(i, msg);
    else if (this.mode === 'lines') {
      const r = this.running.get(i);
      if (r && this.now() - r.start >= this.pointAfterMs) {
        this.stream.write(`mlip-verify report: [${this.secs(this.t0)}] ${this.label(i)} (${this.secs(r.start)}): ${msg.replace(/\s+/g, ' ')}\n`);
      }
    }
  }

  finished(verdict: string, i: number = this.last): void {
    const r = this.running.get(i);
    const took = r ? this.secs(r.start) : '?';
    if (this.mode === 'bar') this.stream.write(`\r\x1b[2K${this.label(i)}: ${verdict} in ${took}\n`);
    else if (this.mode === 'lines') this.stream.write(`mlip-verify report: [${this.secs(this.t0)}] ${this.label(i)}: ${verdict} in ${took}\n`);
    this.running.delete(i);
  }

  done(): void {
    if (this.mode === 'bar') this.stream.write('\r\x1b[2K');
  }
}
