import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Atomic file writes: reports, models and histories are written to a temporary file in the same directory and
 * renamed over the target, so a reader (or an interrupted run) sees either the old file or the new one, never half
 * of one. The temp file is in the same directory because rename is only atomic within one file system.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  try {
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * Append one line to a JSON-lines history atomically: the whole file is rewritten through writeFileAtomic, so a crash
 * never leaves a truncated last record. Histories are small (one line per run), so the copy is cheap.
 */
export function appendLineAtomic(path: string, line: string): void {
  if (line.includes('\n')) throw new Error('appendLineAtomic: the line must not contain a newline');
  let old = '';
  try {
    old = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  if (old.length > 0 && !old.endsWith('\n')) old += '\n';
  writeFileAtomic(path, old + line + '\n');
}
