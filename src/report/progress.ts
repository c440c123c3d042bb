/**
 * Progress of a long report run on stderr: the current study (i/n), its latest message (e.g. the domain size being
 * relaxed) and the elapsed times, rewritten in place on one line; a line per finished study. Silent when stderr is
 * not a terminal (CI logs, pipes), so logs hold only the summary.
 */
export class Progress {
  private readonly t0 = performance.now();
  private studyStart = this.t0;
  private current = '';
  private readonly enabled: boolean;

  constructor(private readonly stream: NodeJS.WriteStream = process.stderr, enabled?: boolean) {
    this.enabled = enabled ?? Boolean(stream.isTTY);
  }

  private secs(from: number): string {
    return `${((performance.now() - from) / 1000).toFixed(1)}s`;
  }

  private status(msg: string): void {
    if (!this.enabled) return;
    const cols = this.stream.columns || 120;
    const line = `[${this.secs(this.t0)}] ${this.current} (${this.secs(this.studyStart)}) ${msg}`.replace(/\s+/g, ' ');
    this.stream.write(`\r\x1b[2K${line.slice(0, cols - 1)}`);
  }

  study(i: number, n: number, name: string): void {
    this.studyStart = performance.now();
    this.current = `study ${i}/${n} ${name}`;
    this.status('starting');
  }

  message(msg: string): void {
    this.status(msg);
  }

  finished(verdict: string): void {
    if (!this.enabled) return;
    this.stream.write(`\r\x1b[2K${this.current}: ${verdict} in ${this.secs(this.studyStart)}\n`);
  }

  done(): void {
    if (this.enabled) this.stream.write('\r\x1b[2K');
  }
}
