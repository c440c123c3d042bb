#!/usr/bin/env node
// Entry point of the `mlip-verify` command: loads the TypeScript sources through tsx (a runtime dependency), so a
// fresh clone needs no build step.
import { register } from 'tsx/esm/api';
register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
