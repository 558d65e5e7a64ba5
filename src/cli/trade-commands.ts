import { join } from "node:path";
import { ValidationError } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import type { RebalanceReport } from "../execution/rebalance-report.js";
import { reportToJSON } from "../execution/rebalance-report.js";
import { SmartRebalancer } from "../execution/smart-rebalancer.js";
import { formatPlan } from "../format/format-plan.js";
import { formatReport } from "../format/format-report.js";
import { planHash } from "../format/plan-hash.js";
import { fileJournal } from "../journal/file-journal.js";
import type { JournalStore } from "../journal/journal-store.js";
import type { RebalanceTargetsInput } from "../rebalance/rebalance-input.js";
import { PositionBook } from "../reconcile/position-book.js";
import { type CommandContext, EXIT_CODES, print, printJson } from "./context.js";
import { readBook, readTargets, writeBook } from "./files.js";
import { planOutput } from "./plan-json.js";
import { followRebalance } from "./progress.js";
import { alertsFor, bookPath, homeDir } from "./session.js";

/** The rebalancer a command uses: the session's broker, a file journal in the home directory. */
export function cliRebalancer(
  ctx: CommandContext,
  logger: Logger,
): { rebalancer: SmartRebalancer; journal: JournalStore } {
  const journal = fileJournal(join(homeDir(ctx.io), "journal"), { logger });
  return { rebalancer: new SmartRebalancer({ broker: ctx.session.broker, journal, logger }), journal };
}

async function targetsOf(ctx: CommandContext): Promise<RebalanceTargetsInput> {
  if (ctx.args.targets === undefined) {
    throw new ValidationError(`[ordersafe] "${ctx.args.command}" needs --targets FILE`, {
      issues: [{ path: "argv.targets", message: "required", value: undefined }],
    });
  }
  return readTargets(ctx.io.cwd, ctx.args.targets);
}

/**
 * `ordersafe plan --targets FILE [--json]`: reads, plans, prints the plan and its hash; sends nothing.
 *
 * @returns the exit code (0)
 */
export async function planCommand(ctx: CommandContext, logger: Logger): Promise<number> {
  const targets = await targetsOf(ctx);
  const { rebalancer, journal } = cliRebalancer(ctx, logger);
  try {
    const plan = await rebalancer.plan(targets);
    if (ctx.args.json) printJson(ctx.io, { hash: planHash(plan), plan: planOutput(plan) });
    else print(ctx.io, formatPlan(plan));
    return EXIT_CODES.ok;
  } finally {
    await journal.close();
  }
}

/** The exit code of a finished rebalance. */
export function exitCodeOf(report: RebalanceReport): number {
  if (report.status === "completed") return EXIT_CODES.ok;
  if (report.status === "completed_adjusted") return EXIT_CODES.adjusted;
  return EXIT_CODES.failed;
}

/**
 * `ordersafe rebalance --targets FILE [--approve HASH | --yes] [--run-id ID] [--json]`: plans;
 * without `--yes` or an `--approve` equal to the plan's hash it prints the plan and sends
 * nothing (exit 3); with it, rebalances with live progress on stderr, prints the report,
 * and updates the book with the run's fills.
 *
 * @returns 0 completed, 2 completed_adjusted, 1 failed or halted, 3 not approved
 */
export async function rebalanceCommand(ctx: CommandContext, logger: Logger): Promise<number> {
  const { args, io } = ctx;
  const targets = await targetsOf(ctx);
  const { rebalancer, journal } = cliRebalancer(ctx, logger);
  try {
    const plan = await rebalancer.plan(targets);
    const hash = planHash(plan);
    const approved = args.yes || args.approve === hash;
    if (!approved) {
      const why =
        args.approve === undefined
          ? `not approved: nothing sent. To send it: ordersafe rebalance --targets ${args.targets} --approve ${hash}`
          : `the plan changed (its hash is now ${hash}, not ${args.approve}): nothing sent. Review it and approve the new hash.`;
      if (args.json)
        printJson(io, {
          hash,
          approved: false,
          sent: false,
          reason: why,
          plan: planOutput(plan),
          report: null,
        });
      else print(io, `${formatPlan(plan)}\n\n${why}`);
      return EXIT_CODES.notApproved;
    }
    const progress = followRebalance(rebalancer, io.stderr, io.stderrIsTTY);
    const alerts = alertsFor(io, rebalancer, logger);
    let report: RebalanceReport;
    try {
      report = await rebalancer.rebalance(targets, args.runId === undefined ? {} : { runId: args.runId });
    } finally {
      progress.end();
      await alerts?.flush();
      alerts?.close();
    }
    await updateBook(ctx, report);
    if (args.json)
      printJson(io, {
        hash,
        approved: true,
        sent: true,
        plan: planOutput(plan),
        report: reportToJSON(report),
      });
    else print(io, formatReport(report));
    return exitCodeOf(report);
  } finally {
    await journal.close();
    await ctx.session.save();
  }
}

/**
 * The book after a run: the stored book (or, the first time, the positions read at the start
 * of the run) plus every fill of the run's orders.
 */
async function updateBook(ctx: CommandContext, report: RebalanceReport): Promise<void> {
  const path = bookPath(ctx.io, ctx.args);
  const book =
    (await readBook(path)) ??
    new PositionBook(Object.fromEntries(report.positionsBefore.map((p) => [p.symbol, p.qty])));
  for (const o of report.orders) {
    if (o.orderId === undefined || o.filledQty.isZero()) continue;
    book.applyFill({ orderId: o.orderId, symbol: o.symbol, side: o.side, cumulativeQty: o.filledQty });
  }
  await writeBook(path, book);
}
