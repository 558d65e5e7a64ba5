import type { CliArgs } from "./args.js";
import type { CliIO } from "./io.js";
import type { BrokerSession } from "./session.js";

/** What a command runs with. */
export interface CommandContext {
  readonly args: CliArgs;
  readonly io: CliIO;
  readonly session: BrokerSession;
}

/** Writes a value as JSON on stdout (one document, two-space indented). */
export function printJson(io: CliIO, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Writes text on stdout, with a final newline. */
export function print(io: CliIO, text: string): void {
  io.stdout.write(`${text}\n`);
}

/** The exit codes of `ordersafe`. */
export const EXIT_CODES = {
  ok: 0,
  failed: 1,
  adjusted: 2,
  notApproved: 3,
} as const;
