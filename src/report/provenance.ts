import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';

/**
 * Where a report came from: enough to rerun it (package version, git commit, configuration) and to judge its wall
 * times (Node version, CPU model and count). The git commit is optional: a report from a tarball has none.
 */
export interface Provenance {
  packageName: string;
  packageVersion: string;
  gitCommit: string | null;
  /** True when tracked files differ from the commit (the report then describes uncommitted code). */
  gitDirty: boolean | null;
  node: string;
  platform: string;
  arch: string;
  cpuModel: string;
  cpuCores: number;
  memoryGiB: number;
}

const ROOT = new URL('../../', import.meta.url);

function git(args: string[]): string | null {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 }).trim();
  } catch {
    return null; // not a git checkout, or git missing: the report says "none"
  }
}

export function collectProvenance(): Provenance {
  const pkg = JSON.parse(readFileSync(new URL('package.json', ROOT), 'utf8')) as { name: string; version: string };
  const commit = git(['rev-parse', 'HEAD']);
  const status = commit === null ? null : git(['status', '--porcelain', '--untracked-files=no']);
  const cpu = cpus();
  return {
    packageName: pkg.name,
    packageVersion: pkg.version,
    gitCommit: commit,
    gitDirty: status === null ? null : status.length > 0,
    node: process.version,
    platform: process.platform,
    arch: process.arch,
    cpuModel: cpu[0]?.model.trim() || 'unknown',
    cpuCores: cpu.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
  };
}
