/** A CLI command: `mlip-verify <name> [args]`. run() returns the exit status. */
export interface Command {
  name: string;
  summary: string;
  usage: string;
  run(argv: string[]): Promise<number>;
}
