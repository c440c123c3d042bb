#!/usr/bin/env node
// Entry point of the `mlip-verify` command: loads the TypeScript sources through tsx (a runtime dependency), so a
// fresh clone needs no build step.
import { register } from 'tsx/esm/api';

// `mlip-verify ... | head` closes stdout early: that is the reader's choice, not an error of ours.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e) => {
    if (e && e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
