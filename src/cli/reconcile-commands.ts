import { join, resolve } from "node:path";
import { systemClock } from "../core/clock.js";
import { OrdersafeError } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import { formatDrifts } from "../format/format-report.js";
import { formatMoney, formatQty } from "../format/money.js";
import { formatTable } from "../format/table.js";
import { driftToJSON } from "../reconcile/detect-position-drift.js";
import { PositionBook } from "../reconcile/position-book.js";
import {
  type CorrectionAction,
  type CorrectionMode,
  type CorrectiveOrderIntent,
  PositionCorrectionEngine,
  type ReconciliationReport,
} from "../reconcile/position-correction-engine.js";
import { PositionReconciliationEngine } from "../reconcile/position-reconciliation-engine.js";
import { type CommandContext, EXIT_CODES, print, printJson } from "./context.js";
import { readBook, writeBook, writeFileAtomic } from "./files.js";
import { createPrompter, type Prompter } from "./prompt.js";
import { alertsFor, bookPath } from "./session.js";
import { cliRebalancer } from "./trade-commands.js";

/** The book, or, the first time, the broker's positions taken as the book (and saved). */
async function loadOrStartBook(ctx: CommandContext): Promise<{ book: PositionBook; created: boolean }> {
  const path = bookPath(ctx.io, ctx.args);
  const stored = await readBook(path);
  if (stored !== undefined) return { book: stored, created: false };
  const positions = await ctx.session.broker.getPositions();
  const book = new PositionBook(Object.fromEntries(positions.map((p) => [p.symbol, p.qty])));
  await writeBook(path, book);
  return { book, created: true };
}

function describeAction(a: CorrectionAction): string {
  const value = a.notional === undefined ? "" : ` (${formatMoney(a.notional)})`;
  const what =
    a.kind === "adopt"
      ? `adopt the broker's ${formatQty(a.toQty)} ${a.symbol} (book: ${formatQty(a.fromQty)})`
      : `${a.order?.side ?? "trade"} ${formatQty(a.order?.qty ?? a.toQty)} ${a.symbol} to bring it back to ${formatQty(a.fromQty)}`;
  return `${what}${value}: ${a.drift.class}, ${a.drift.reason}`;
}

function actionJSON(a: CorrectionAction) {
  return {
    id: a.id,
    kind: a.kind,
    symbol: a.symbol,
    driftClass: a.drift.class,
    fromQty: a.fromQty.toFixed(),
    toQty: a.toQty.toFixed(),
    notional: a.notional?.toFixed() ?? null,
    status: a.status,
    reason: a.reason ?? null,
  };
}

/** The engines of a reconciliation over the stored book. */
function engines(
  ctx: CommandContext,
  book: PositionBook,
  mode: CorrectionMode,
  logger: Logger,
  approve: ((a: CorrectionAction) => Promise<boolean>) | undefined,
) {
  const reconciler = new PositionReconciliationEngine({ broker: ctx.session.broker, book, logger });
  const placeOrder = async (intent: CorrectiveOrderIntent) => {
    const { rebalancer, journal } = cliRebalancer(ctx, logger);
    try {
      const from =
        intent.side === "buy" ? intent.targetQty.minus(intent.qty) : intent.targetQty.plus(intent.qty);
      const report = await rebalancer.executeRebalance(intent.symbol, from, intent.targetQty);
      for (const o of report.orders) {
        if (o.orderId === undefined || o.filledQty.isZero()) continue;
        book.applyFill({ orderId: o.orderId, symbol: o.symbol, side: o.side, cumulativeQty: o.filledQty });
      }
      if (report.status === "failed" || report.status === "halted") {
        throw new OrdersafeError(
          "invalid_state",
          `[ordersafe] corrective order on ${intent.symbol}: ${report.status}`,
        );
      }
      return report;
    } finally {
      await journal.close();
    }
  };
  const corrections = new PositionCorrectionEngine({
    mode,
    reconciler,
    logger,
    placeOrder,
    ...(approve === undefined ? {} : { approve }),
  });
  return { reconciler, corrections };
}

/**
 * `ordersafe reconcile [--mode report|approve|auto] [--yes] [--json]`: compares the book with
 * the broker, prints the drift table, and acts under the mode. `approve` asks about each
 * correction on the terminal; without one it refuses unless `--yes` (which approves all).
 *
 * @returns 0 when nothing above tolerance is left undone, 2 otherwise
 * @throws OrdersafeError (`invalid_state`) for `approve` without a terminal and without `--yes`
 */
export async function reconcileCommand(ctx: CommandContext, logger: Logger): Promise<number> {
  const { args, io } = ctx;
  if (args.mode === "approve" && !args.yes && !io.stdinIsTTY) {
    throw new OrdersafeError(
      "invalid_state",
      "[ordersafe] reconcile --mode approve asks about each correction on a terminal: run it in one, or pass --yes to approve them all",
    );
  }
  let prompter: Prompter | undefined;
  const approve =
    args.mode === "approve" && !args.yes
      ? (a: CorrectionAction) => {
          prompter ??= createPrompter(io.stdin, io.stderr);
          return prompter.confirm(`Correct ${describeAction(a)}?`);
        }
      : args.yes
        ? async () => true
        : undefined;
  const { book, created } = await loadOrStartBook(ctx);
  try {
    const { reconciler, corrections } = engines(ctx, book, args.mode, logger, approve);
    const scan = await reconciler.detectDrift();
    const alerts = alertsFor(io, undefined, logger);
    alerts?.checkDrifts("reconcile", scan.drifts);
    const run = await corrections.handleDrifts(scan);
    await alerts?.flush();
    await writeBook(bookPath(io, args), book);
    const undone = run.actions.filter((a) => a.status !== "applied").length;
    const above = scan.drifts.filter((d) => !d.withinTolerance).length;
    if (args.json) {
      printJson(io, {
        mode: args.mode,
        bookCreated: created,
        positionsChecked: scan.positionsChecked,
        drifts: scan.drifts.map(driftToJSON),
        actions: run.actions.map(actionJSON),
        alerts: run.alerts.map((a) => ({ reason: a.reason, symbol: a.drift.symbol, message: a.message })),
      });
    } else {
      print(io, reconcileText(created, scan.positionsChecked, scan.drifts, run.actions, args.mode));
    }
    return above > 0 && (undone > 0 || run.actions.length === 0) ? EXIT_CODES.adjusted : EXIT_CODES.ok;
  } finally {
    prompter?.close();
    await ctx.session.save();
  }
}

function reconcileText(
  created: boolean,
  checked: number,
  drifts: Parameters<typeof formatDrifts>[0],
  actions: readonly CorrectionAction[],
  mode: CorrectionMode,
): string {
  const out: string[] = [];
  if (created) out.push("No book yet: the broker's positions are now the book.", "");
  out.push(`Reconciliation (${mode}): ${checked} position(s) checked, ${drifts.length} difference(s).`);
  if (drifts.length > 0) out.push("", formatDrifts(drifts));
  if (actions.length > 0) {
    out.push("", "Corrections:");
    out.push(
      formatTable(
        [
          { header: "symbol" },
          { header: "action" },
          { header: "book", align: "right" },
          { header: "to", align: "right" },
          { header: "status" },
        ],
        actions.map((a) => [a.symbol, a.kind, formatQty(a.fromQty), formatQty(a.toQty), a.status]),
      ),
    );
  }
  return out.join("\n");
}

/** The daily reconciliation report as Markdown. */
export function dailyMarkdown(r: ReconciliationReport): string {
  const lines = [
    `# Reconciliation report ${r.generatedAt.slice(0, 10)}`,
    "",
    `- generated: ${r.generatedAt}`,
    `- period from: ${r.periodStart}`,
    `- mode: ${r.mode}; auto limits: $${r.limits.maxAutoNotional} per action, ${r.limits.maxActionsPerRun} per run`,
    `- scans: ${r.scans}; positions checked: ${r.positionsChecked}; drifts above tolerance: ${r.driftsAboveTolerance}`,
    "",
    "## Drifts by class",
    "",
    "| class | count |",
    "| --- | ---: |",
    ...Object.entries(r.driftsByClass).map(([c, n]) => `| ${c} | ${n} |`),
    "",
    "## Drifts above tolerance",
    "",
  ];
  if (r.drifts.length === 0) lines.push("None.");
  else {
    lines.push(
      "| symbol | book | broker | difference | value | class | reason |",
      "| --- | ---: | ---: | ---: | ---: | --- | --- |",
    );
    for (const d of r.drifts) {
      const value = d.notionalDiff === undefined ? "" : formatMoney(d.notionalDiff);
      lines.push(
        `| ${d.symbol} | ${d.expectedQty} | ${d.actualQty} | ${d.qtyDiff} | ${value} | ${d.class} | ${d.reason} |`,
      );
    }
  }
  lines.push("", "## Corrections", "");
  const c = r.corrections;
  const groups: [string, typeof c.taken][] = [
    ["taken", c.taken],
    ["awaiting approval", c.awaitingApproval],
    ["not taken", c.notTaken],
    ["rejected", c.rejected],
    ["failed", c.failed],
  ];
  for (const [name, list] of groups) {
    lines.push(`- ${name}: ${list.length}`);
    for (const a of list)
      lines.push(`  - ${a.symbol} ${a.kind} ${a.fromQty} -> ${a.toQty} (${a.driftClass})`);
  }
  lines.push("", "## Alerts", "");
  if (r.alerts.length === 0) lines.push("None.");
  for (const a of r.alerts) lines.push(`- ${a.at} ${a.symbol} ${a.reason}: ${a.message}`);
  return `${lines.join("\n")}\n`;
}

/**
 * `ordersafe report --daily [--out DIR] [--json]`: one reconciliation scan in report mode (no
 * change, no order) and its report; Markdown on stdout, or both files
 * (`reconciliation-YYYY-MM-DD.md` and `.json`) in DIR.
 *
 * @returns 0
 * @throws ValidationError (`validation`) without `--daily`
 */
export async function reportCommand(ctx: CommandContext, logger: Logger): Promise<number> {
  const { args, io } = ctx;
  if (!args.daily) {
    throw new OrdersafeError("validation", "[ordersafe] report needs --daily (the only report so far)");
  }
  const { book } = await loadOrStartBook(ctx);
  const { reconciler, corrections } = engines(ctx, book, "report", logger, undefined);
  await corrections.handleDrifts(await reconciler.detectDrift());
  const report = corrections.createReconciliationReport();
  const markdown = dailyMarkdown(report);
  if (args.out !== undefined) {
    const day = new Date(systemClock.now()).toISOString().slice(0, 10);
    const dir = resolve(io.cwd, args.out);
    const md = join(dir, `reconciliation-${day}.md`);
    const json = join(dir, `reconciliation-${day}.json`);
    await writeFileAtomic(md, markdown);
    await writeFileAtomic(json, `${JSON.stringify(report, null, 2)}\n`);
    if (args.json) printJson(io, { markdown: md, json, report });
    else print(io, `wrote ${md}\nwrote ${json}`);
  } else if (args.json) printJson(io, report);
  else io.stdout.write(markdown);
  return EXIT_CODES.ok;
}
