import type { Readable } from "node:stream";

/** Where the command reads and writes: the process's streams and environment, or a test's. */
export interface CliIO {
  /** Results (tables, JSON). */
  readonly stdout: { write(text: string): unknown };
  /** Progress, prompts and errors. */
  readonly stderr: { write(text: string): unknown };
  /** Answers to prompts. */
  readonly stdin: Readable;
  /** The environment (credentials, broker choice). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Whether stdin is a terminal (prompts need one). */
  readonly stdinIsTTY: boolean;
  /** Whether stderr is a terminal (progress is then one updating line). */
  readonly stderrIsTTY: boolean;
  /** The working directory (relative paths start here). */
  readonly cwd: string;
}

/**
 * The process's own streams and environment.
 *
 * @returns the IO of this process
 */
export function processIO(): CliIO {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    stdinIsTTY: process.stdin.isTTY === true,
    stderrIsTTY: process.stderr.isTTY === true,
    cwd: process.cwd(),
  };
}
