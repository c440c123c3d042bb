import { parentPort } from 'node:worker_threads';
import { loadStudy } from '../convergence/registry.ts';
import { ParameterError } from '../util/errors.ts';
import { serialiseError, type PoolJob, type WorkerReply } from './pool.ts';

/**
 * A report worker thread: runs one job at a time (a whole study, or one task of a study that exposes runTask) and
 * posts back its progress lines, then its result or its error as data. Module state (the pipeline's reference and
 * training-cell caches) lives as long as the worker, so later jobs on the same references reuse them.
 */
const port = parentPort;
if (!port) throw new Error('pool-worker.ts must run in a worker thread');

port.on('message', async (m: { id: number; job: PoolJob }) => {
  const post = (r: WorkerReply) => port.postMessage(r);
  const progress = (msg: string) => post({ id: m.id, type: 'progress', msg });
  try {
    const def = await loadStudy(m.job.study);
    let value: unknown;
    if (m.job.kind === 'study') value = await def.run(m.job.options, { mode: m.job.mode, progress });
    else {
      if (!def.runTask) throw new ParameterError(`study ${def.name} has no independent tasks to run on a worker`);
      value = await def.runTask(m.job.options, m.job.task, { mode: m.job.mode, progress });
    }
    post({ id: m.id, type: 'result', value });
  } catch (e) {
    post({ id: m.id, type: 'error', error: serialiseError(e) });
  }
});
