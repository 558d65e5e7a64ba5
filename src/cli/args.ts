import { parseArgs } from "node:util";
import { ValidationError } from "../core/errors.js";
import { CORRECTION_MODES, type CorrectionMode } from "../reconcile/position-correction-engine.js";

/** The commands of `ordersafe`. */
export const CLI_COMMANDS = [
  "plan",
  "rebalance",
  "reconcile",
  "orders",
  "positions",
  "account",
  "report",
  "help",
] as const;
/** One of {@link CLI_COMMANDS}. */
export type CliCommand = (typeof CLI_COMMANDS)[number];

/** The parsed command line. */
export interface CliArgs {
  command: CliCommand;
  targets: string | undefined;
  approve: string | undefined;
  yes: boolean;
  runId: string | undefined;
  json: boolean;
  mode: CorrectionMode;
  open: boolean;
  daily: boolean;
  out: string | undefined;
  live: boolean;
  verbose: boolean;
  book: string | undefined;
}

/** The flags each command accepts (besides `--json`, `--live`, `--verbose`, `--book`). */
const ALLOWED: Record<CliCommand, readonly string[]> = {
  plan: ["targets"],
  rebalance: ["targets", "approve", "yes", "run-id"],
  reconcile: ["mode", "yes"],
  orders: ["open"],
  positions: [],
  account: [],
  report: ["daily", "out"],
  help: [],
};
const COMMON = ["json", "live", "verbose", "book", "help"];

/** The usage text of `ordersafe help`. */
export const USAGE = `Usage: ordersafe <command> [options]

Commands:
  plan --targets FILE                       preview the orders of a rebalance, with its plan hash
  rebalance --targets FILE [--approve HASH | --yes] [--run-id ID]
                                            rebalance; without approval nothing is sent
  reconcile [--mode report|approve|auto] [--yes]
                                            compare the book with the broker and correct it
  orders [--open]                           the account's orders
  positions                                 the broker's positions
  account                                   cash, buying power, equity
  report --daily [--out DIR]                the daily reconciliation report (Markdown and JSON)

Options:
  --json        machine-readable output on stdout
  --live        allow a live (real money) Alpaca account
  --book FILE   the bot's position book (default $ORDERSAFE_BOOK or .ordersafe/book.json)
  --verbose     print stacks with errors

Broker: APCA_API_KEY_ID, APCA_API_SECRET_KEY, APCA_API_BASE_URL (paper by default),
APCA_API_DATA_URL, APCA_API_STREAM_URL; or ORDERSAFE_BROKER=simulated with ORDERSAFE_SIM_STATE=FILE.
Exit codes: 0 done (rebalance: completed), 2 completed_adjusted, 1 failed, halted or an error,
3 nothing sent (no approval, or the plan changed).`;

function usageError(message: string): ValidationError {
  return new ValidationError(`[ordersafe] ${message} (see: ordersafe help)`, {
    issues: [{ path: "argv", message, value: undefined }],
  });
}

function isCommand(s: string | undefined): s is CliCommand {
  return CLI_COMMANDS.some((c) => c === s);
}

function isMode(s: string): s is CorrectionMode {
  return CORRECTION_MODES.some((m) => m === s);
}

/**
 * Parses the command line (`node:util` parseArgs, strict): the command, then its flags.
 *
 * @param argv - the arguments after the program name
 * @returns the command and its options
 * @throws ValidationError (`validation`) for an unknown command or flag, a flag the command
 *   does not take, a missing value or a bad `--mode`
 */
export function parseCliArgs(argv: readonly string[]): CliArgs {
  const [first, ...rest] = argv;
  const command = first === undefined || first === "--help" || first === "-h" ? "help" : first;
  if (!isCommand(command)) throw usageError(`unknown command "${command}"`);
  let parsed: ReturnType<typeof parseFlags>;
  try {
    parsed = parseFlags(rest);
  } catch (e) {
    throw usageError(e instanceof Error ? e.message : String(e));
  }
  const v = parsed.values;
  for (const key of Object.keys(v)) {
    if (!COMMON.includes(key) && !ALLOWED[command].includes(key)) {
      throw usageError(`"${command}" does not take --${key}`);
    }
  }
  if (parsed.positionals.length > 0) throw usageError(`unexpected argument "${parsed.positionals[0]}"`);
  const mode = v.mode ?? "report";
  if (!isMode(mode)) throw usageError(`--mode must be one of ${CORRECTION_MODES.join(", ")}`);
  if (v.approve !== undefined && v.yes === true) throw usageError("pass --approve HASH or --yes, not both");
  return {
    command: v.help === true ? "help" : command,
    targets: v.targets,
    approve: v.approve,
    yes: v.yes === true,
    runId: v["run-id"],
    json: v.json === true,
    mode,
    open: v.open === true,
    daily: v.daily === true,
    out: v.out,
    live: v.live === true,
    verbose: v.verbose === true,
    book: v.book,
  };
}

function parseFlags(args: string[]) {
  return parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: {
      targets: { type: "string" },
      approve: { type: "string" },
      yes: { type: "boolean" },
      "run-id": { type: "string" },
      json: { type: "boolean" },
      mode: { type: "string" },
      open: { type: "boolean" },
      daily: { type: "boolean" },
      out: { type: "string" },
      live: { type: "boolean" },
      verbose: { type: "boolean" },
      book: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
}
