// npm run bench:journal — what the journal costs per order: the durable `send` append made
// right before each submit, plus the `answer` append after it, timed beside the REST round
// trip it precedes (createAlpacaBroker → the fake Alpaca server on 127.0.0.1, real HTTP, the
// server in a child process of its own), in the same loop. The file journal is measured with its real fdatasync, and its handle is
// counted: writes per append and datasyncs per durable append.
//
// ORDERS=2000 by default (env ORDERS to change); JOURNAL_DIR picks the file system (default:
// the OS temporary directory).

import { fork } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createAlpacaBroker } from "../src/alpaca/index.js";
import {
  type BrokerPort,
  Decimal,
  fileJournal,
  type JournalStore,
  memoryJournal,
  type OpenJournalFile,
  type OrderRequest,
} from "../src/index.js";
import { startFakeAlpacaServer } from "../src/testing/index.js";

const ORDERS = Number(process.env.ORDERS ?? 2_000);
const WARMUP = 100;
const ACCOUNT = "PA-BENCH";
const KEY = "PKBENCHKEY0123456789A";
const SECRET = "bench-secret-0123456789abcdefghijklmnop";

interface Counts {
  writes: number;
  datasyncs: number;
}

/** node:fs/promises' open, counting the journal file's writes and datasyncs. */
function countingOpen(counts: Counts): OpenJournalFile {
  return async (path, flags, mode) => {
    const h = await open(path, flags, mode);
    const journal = basename(path).endsWith(".jsonl") && !basename(path).endsWith(".torn.jsonl");
    return {
      read: (b, o, l, p) => h.read(b, o, l, p),
      write: (b, o, l, p) => {
        if (journal) counts.writes++;
        return h.write(b, o, l, p);
      },
      datasync: () => {
        if (journal) counts.datasyncs++;
        return h.datasync();
      },
      sync: () => h.sync(),
      truncate: (l) => h.truncate(l),
      stat: () => h.stat(),
      close: () => h.close(),
    };
  };
}

interface Sample {
  send: number;
  answer: number;
  rest: number;
}

const ms = (from: bigint) => Number(process.hrtime.bigint() - from) / 1e6;

async function measure(broker: BrokerPort, journal: JournalStore, tag: string, n: number): Promise<Sample[]> {
  const runId = `bench-${tag}`;
  await journal.append(ACCOUNT, [
    {
      type: "run_start",
      runId,
      targets: { quantities: { SPY: "1" } },
      options: { bench: true },
      account: {
        cash: "1",
        buyingPower: "1",
        equity: "1",
        currency: "USD",
        tradingBlocked: false,
        asOf: new Date(0),
      },
      positions: [],
    },
  ]);
  const samples: Sample[] = [];
  for (let i = 0; i < n; i++) {
    const request: OrderRequest = {
      clientOrderId: `${runId}-${i}`,
      symbol: "SPY",
      side: "buy",
      type: "market",
      timeInForce: "day",
      qty: new Decimal(1),
    };
    const t0 = process.hrtime.bigint();
    await journal.append(
      ACCOUNT,
      [{ type: "send", runId, sendId: request.clientOrderId, op: "submit", request }],
      { durable: true },
    );
    const send = ms(t0);
    const t1 = process.hrtime.bigint();
    const order = await broker.submitOrder(request);
    const rest = ms(t1);
    const t2 = process.hrtime.bigint();
    await journal.append(ACCOUNT, [
      {
        type: "answer",
        runId,
        sendId: request.clientOrderId,
        result: "accepted",
        order: {
          id: order.id,
          clientOrderId: order.clientOrderId,
          status: order.status,
          filledQty: order.filledQty,
        },
      },
    ]);
    samples.push({ send, answer: ms(t2), rest });
  }
  await journal.finishRun(ACCOUNT, runId, "completed");
  await journal.compact(ACCOUNT);
  return samples;
}

function pct(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

function row(label: string, values: number[]): string {
  const f = (x: number) => x.toFixed(3).padStart(8);
  return `${label.padEnd(44)}${f(pct(values, 50))}${f(pct(values, 90))}${f(pct(values, 99))}${f(Math.max(...values))}`;
}

/** The fake Alpaca server, in a child process of its own (as a real broker is not in the bot's process). */
async function serve(): Promise<void> {
  const server = await startFakeAlpacaServer({
    keyId: KEY,
    secret: SECRET,
    cash: 1_000_000_000,
    prices: { SPY: 500 },
  });
  process.send?.({ baseUrl: server.baseUrl, dataBaseUrl: server.dataBaseUrl, streamUrl: server.streamUrl });
  process.on("disconnect", () => void server.close().then(() => process.exit(0)));
}

async function startServer(): Promise<{ urls: Record<string, string>; stop(): void }> {
  const child = fork(fileURLToPath(import.meta.url), [], {
    env: { ...process.env, BENCH_JOURNAL_ROLE: "server" },
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const urls = await new Promise<Record<string, string>>((resolve, reject) => {
    child.once("message", (m) => resolve(m as Record<string, string>));
    child.once("exit", (code) => reject(new Error(`the server process exited (${code})`)));
  });
  return { urls, stop: () => child.disconnect() };
}

async function main() {
  const server = await startServer();
  const broker = createAlpacaBroker({
    keyId: KEY,
    secret: SECRET,
    baseUrl: server.urls.baseUrl!,
    dataBaseUrl: server.urls.dataBaseUrl!,
    streamUrl: server.urls.streamUrl!,
    // The fake server has no budget: the bucket must not pace the loop.
    rateLimitPerMinute: 100_000,
  });
  const dir = mkdtempSync(join(process.env.JOURNAL_DIR ?? tmpdir(), "ordersafe-bench-journal-"));
  try {
    const counts: Counts = { writes: 0, datasyncs: 0 };
    const file = fileJournal(dir, { openFile: countingOpen(counts) });
    const unsynced = fileJournal(join(dir, "nosync"), { fsync: false });
    const memory = memoryJournal();

    await measure(broker, file, "warmup-file", WARMUP);
    await measure(broker, unsynced, "warmup-nosync", WARMUP);
    await measure(broker, memory, "warmup-memory", WARMUP);
    const before = { ...counts };
    const fileSamples = await measure(broker, file, "file", ORDERS);
    // The measured loop: ORDERS sends and answers, plus run_start and run_end (synced).
    const writes = counts.writes - before.writes;
    const datasyncs = counts.datasyncs - before.datasyncs;
    const unsyncedSamples = await measure(broker, unsynced, "nosync", ORDERS);
    const memorySamples = await measure(broker, memory, "memory", ORDERS);
    await Promise.all([file.close(), unsynced.close(), memory.close()]);

    const perOrder = (s: Sample[]) => s.map((x) => x.send + x.answer);
    console.log(
      `ordersafe journal benchmark: ${ORDERS} orders, node ${process.version}, ${process.platform}`,
    );
    console.log(`journal directory: ${dir}`);
    console.log(`${"ms".padEnd(44)}     p50     p90     p99     max`);
    console.log(row("fileJournal: per order (send + answer)", perOrder(fileSamples)));
    console.log(
      row(
        "  durable send append (write + fdatasync)",
        fileSamples.map((x) => x.send),
      ),
    );
    console.log(
      row(
        "  answer append (write only)",
        fileSamples.map((x) => x.answer),
      ),
    );
    console.log(row("fileJournal fsync:false: per order", perOrder(unsyncedSamples)));
    console.log(row("memoryJournal: per order", perOrder(memorySamples)));
    console.log(
      row(
        "REST submitOrder round trip (127.0.0.1)",
        fileSamples.map((x) => x.rest),
      ),
    );
    console.log(
      `journal file: ${writes} writes for ${2 * ORDERS + 2} appends (${(writes / (2 * ORDERS + 2)).toFixed(2)} per append), ` +
        `${datasyncs} fdatasyncs for ${ORDERS + 1} durable calls (${(datasyncs / (ORDERS + 1)).toFixed(2)} per durable call)`,
    );
    const p50 = pct(perOrder(fileSamples), 50);
    console.log(
      `goal: p50 per order ≤ 2 ms with one fdatasync per durable call: ${p50 <= 2 && datasyncs === ORDERS + 1 ? "met" : "NOT met"} (p50 ${p50.toFixed(3)} ms)`,
    );
  } finally {
    server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.env.BENCH_JOURNAL_ROLE === "server") await serve();
else await main();
