/** Shared set-up of the engine-ase tests: which Python has ASE, structures, and ASE run directly (no socket). */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ballDomain, periodicDomain } from '../src/lattice/domain.ts';
import { makeLattice } from '../src/lattice/lattice.ts';
import type { Structure } from '../src/lattice/structure.ts';
import { pythonCandidates } from '../src/engines/ase/engine.ts';
import { Rng } from '../src/util/rng.ts';

/** The first candidate interpreter that imports ASE and numpy, or null (then the tests skip, saying so). */
export function findAsePython(): string | null {
  for (const c of pythonCandidates()) {
    const r = spawnSync(c, ['-c', 'import ase, numpy'], { encoding: 'utf8', timeout: 60_000 });
    if (r.status === 0) return c;
  }
  return null;
}

export const PY = findAsePython();
export const WHY_SKIP = PY ? '' : `no Python with ASE (tried ${pythonCandidates().join(', ')}): run scripts/install-ase.sh`;
/** Test calculators (boundary reporter, faults), loaded by file path: `${CALCS}:fault`. */
export const CALCS = fileURLToPath(new URL('./engine-ase-calcs.py', import.meta.url));

/** Cu fcc (nearest-neighbour distance r0), reps conventional cells per side, rattled by amp (uniform, +-amp/2). */
export function fccCell(r0: number, reps: number, seed: number, amp: number): Structure {
  const dom = periodicDomain(makeLattice('fcc', r0), 'none', reps * r0 * Math.SQRT2, 1, [reps, reps, reps]);
  return rattle(dom.structure, seed, amp);
}

/** An open fcc cluster (ball of radius R nearest-neighbour distances), rattled. */
export function fccBall(r0: number, R: number, seed: number, amp: number): Structure {
  return rattle(ballDomain(makeLattice('fcc', r0), 'none', R, 1).structure, seed, amp);
}

export function rattle(s: Structure, seed: number, amp: number): Structure {
  const rng = new Rng(seed);
  return { dim: s.dim, positions: s.positions.map((x) => x + amp * (rng.uniform() - 0.5)), cell: s.cell };
}

const DIRECT = `
import json, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
import client
d = json.loads(sys.stdin.read())
calc = client.make_calculator(d['calc'], d['args'])
from ase import Atoms
res = []
for s in d['structures']:
    n = len(s['positions']) // 3
    pos = np.array(s['positions']).reshape(n, 3)
    periodic = s['cell'] is not None
    cell = np.array(s['cell']).reshape(3, 3) if periodic else np.eye(3) * 100.0
    a = Atoms(d['element'] + str(n), positions=pos, cell=cell, pbc=periodic)
    a.calc = calc
    out = {'energy': a.get_potential_energy(), 'forces': a.get_forces().ravel().tolist()}
    if d['stress'] and periodic:
        out['virial'] = (-a.get_volume() * a.get_stress(voigt=False)).ravel().tolist()
    res.append(out)
print(json.dumps(res))
`;

/** The calculator evaluated by ASE itself in one Python process (no socket, no unit conversion): the reference. */
export function aseDirect(
  calc: string,
  args: Record<string, unknown>,
  element: string,
  ss: readonly Structure[],
  stress: boolean,
): { energy: number; forces: number[]; virial?: number[] }[] {
  const dir = fileURLToPath(new URL('../src/engines/ase/', import.meta.url));
  const structures = ss.map((s) => ({ positions: Array.from(s.positions), cell: s.cell ? Array.from(s.cell) : null }));
  const input = JSON.stringify({ calc, args, element, structures, stress });
  // (importing client.py must not leave a __pycache__ in the source tree)
  const env = { ...process.env, PYTHONDONTWRITEBYTECODE: '1' };
  const r = spawnSync(PY!, ['-c', DIRECT, dir], { input, encoding: 'utf8', timeout: 300_000, maxBuffer: 1 << 26, env });
  if (r.status !== 0) throw new Error(`ASE direct failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

/** Is this process running? A zombie (exited, not yet reaped) counts as gone: it runs nothing and holds nothing. */
export function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Wait until pid is gone, up to ms; returns whether it is gone. */
export async function gone(pid: number | undefined, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (!alive(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return !alive(pid);
}
