import { isOrdersafeError } from "../core/errors.js";
import { type Logger, silentLogger } from "../core/logger.js";
import { type CliArgs, parseCliArgs, USAGE } from "./args.js";
import { type CommandContext, EXIT_CODES, print } from "./context.js";
import type { CliIO } from "./io.js";
import { accountCommand, ordersCommand, positionsCommand } from "./read-commands.js";
import { reconcileCommand, reportCommand } from "./reconcile-commands.js";
import { openSession, SECRET_ENV } from "./session.js";
import { planCommand, rebalanceCommand } from "./trade-commands.js";

/** Removes every credential of the environment from a text. */
function redactor(io: CliIO): (text: string) => string {
  const secrets = SECRET_ENV.map((k) => io.env[k]).filter(
    (v): v is string => v !== undefined && v.length >= 4,
  );
  return (text) => secrets.reduce((t, s) => t.split(s).join("[redacted]"), text);
}

/** The error as one line: `ordersafe: error [code]: message`. */
function errorLine(e: unknown): string {
  const code = isOrdersafeError(e) ? e.code : "unknown";
  const message = e instanceof Error ? e.message : String(e);
  return `ordersafe: error [${code}]: ${message.replace(/\s*\n\s*/g, " ")}`;
}

/** With `--verbose`, warnings and errors of the library on stderr (credentials redacted). */
function cliLogger(io: CliIO, verbose: boolean, redact: (t: string) => string): Logger {
  if (!verbose) return silentLogger;
  const write =
    (level: string) =>
    (message: unknown, ...rest: unknown[]) => {
      const extra = rest.length === 0 ? "" : ` ${safeJson(rest)}`;
      io.stderr.write(redact(`[${level}] ${String(message)}${extra}\n`));
    };
  return { debug: () => {}, info: () => {}, warn: write("warn"), error: write("error") };
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}

async function dispatch(ctx: CommandContext, logger: Logger): Promise<number> {
  switch (ctx.args.command) {
    case "plan":
      return planCommand(ctx, logger);
    case "rebalance":
      return rebalanceCommand(ctx, logger);
    case "reconcile":
      return reconcileCommand(ctx, logger);
    case "report":
      return reportCommand(ctx, logger);
    case "orders":
      return ordersCommand(ctx);
    case "positions":
      return positionsCommand(ctx);
    case "account":
      return accountCommand(ctx);
    case "help":
      return EXIT_CODES.ok;
  }
}

/**
 * Runs one `ordersafe` command line. Errors are one line on stderr with their code
 * (`ordersafe: error [validation]: …`), the stack only with `--verbose`, credentials never.
 *
 * @param argv - the arguments after the program name
 * @param io - streams and environment
 * @returns the exit code: 0 done, 2 completed_adjusted (or drift left), 1 failed, halted or
 *   an error, 3 nothing sent for want of approval
 */
export async function runCli(argv: readonly string[], io: CliIO): Promise<number> {
  const redact = redactor(io);
  let args: CliArgs | undefined;
  try {
    args = parseCliArgs(argv);
    if (args.command === "help") {
      print(io, USAGE);
      return EXIT_CODES.ok;
    }
    const logger = cliLogger(io, args.verbose, redact);
    const session = await openSession(io, args);
    return await dispatch({ args, io, session }, logger);
  } catch (e) {
    io.stderr.write(`${redact(errorLine(e))}\n`);
    if (args?.verbose === true && e instanceof Error && e.stack !== undefined) {
      io.stderr.write(`${redact(e.stack)}\n`);
    }
    return EXIT_CODES.failed;
  }
}
