// reconcile --mode approve in a pseudo-terminal (util-linux `script`), answered by keystrokes;
// and how errors look: one line with the code, a stack only with --verbose, never a secret.
import { execFileSync, spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type FakeAlpacaServer, startFakeAlpacaServer } from "ordersafe/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildCli, runCli, workDir } from "./cli-harness.js";

const KEY = "PKTERMKEY5678";
const SECRET = "terminal-secret-abcdef";

let cli: { file: string; dispose(): void };
let server: FakeAlpacaServer;
let work: { dir: string; dispose(): void };
let env: Record<string, string>;

/** util-linux `script`, which runs a command in a pseudo-terminal; the test fails loudly without it. */
function scriptBinary(): string {
  try {
    return execFileSync("sh", ["-c", "command -v script"], { encoding: "utf8" }).trim();
  } catch {
    throw new Error("util-linux `script` is required by this test (apt-get install util-linux)");
  }
}

const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/**
 * Runs the command in a pseudo-terminal; each time the output shows a new `[y/N]` prompt, types
 * the next answer followed by Enter.
 */
function runInTerminal(args: string[], answers: string[]): Promise<{ code: number | null; output: string }> {
  const command = [process.execPath, cli.file, ...args].map(quote).join(" ");
  return new Promise((resolve, reject) => {
    const child = spawn(scriptBinary(), ["-qfec", command, "/dev/null"], {
      cwd: work.dir,
      env: { PATH: process.env.PATH ?? "", SHELL: "/bin/sh", TERM: "dumb", ...env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let output = "";
    let asked = 0;
    child.stdout.on("data", (d: Buffer) => {
      output += d.toString();
      const prompts = output.split("[y/N]").length - 1;
      while (asked < prompts) {
        const answer = answers[asked++];
        child.stdin.write(`${answer ?? "n"}\r`);
      }
    });
    child.stderr.on("data", (d: Buffer) => {
      output += d.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => {
      child.stdin.end();
      resolve({ code, output });
    });
  });
}

beforeAll(async () => {
  scriptBinary();
  cli = await buildCli();
  server = await startFakeAlpacaServer({
    keyId: KEY,
    secret: SECRET,
    cash: 10_000,
    positions: { SPY: 10 },
    prices: { SPY: 500, BIL: 100 },
  });
  work = workDir();
  env = {
    APCA_API_KEY_ID: KEY,
    APCA_API_SECRET_KEY: SECRET,
    APCA_API_BASE_URL: server.baseUrl,
    APCA_API_DATA_URL: server.dataBaseUrl,
    APCA_API_STREAM_URL: server.streamUrl,
    ORDERSAFE_BOOK: "book.json",
  };
});

afterAll(async () => {
  await server?.close();
  cli?.dispose();
  work?.dispose();
});

describe("reconcile --mode approve on a terminal", () => {
  it("asks about each correction and does only what was answered yes", async () => {
    // The bot's book: 10 SPY. At the broker: 13 SPY (a trade made elsewhere) and 2 BIL nobody booked.
    writeFileSync(
      join(work.dir, "book.json"),
      JSON.stringify({ version: 1, positions: { SPY: "10" }, orders: {} }),
    );
    server.broker.outsideTrade("SPY", 3);
    server.broker.outsideTrade("BIL", 2);
    // Drifts come sorted by symbol: BIL (adopt?) — no; SPY (sell 3 back to 10?) — yes.
    const r = await runInTerminal(["reconcile", "--mode", "approve"], ["n", "y"]);
    expect(r.output).toMatch(/Correct adopt the broker's 2 BIL \(book: 0\).*\[y\/N\]/);
    expect(r.output).toMatch(/Correct sell 3 SPY to bring it back to 10.*\[y\/N\]/);
    expect(r.code).toBe(2); // BIL's drift is left as it is
    expect(r.output).toMatch(/^BIL\s+adopt\s+0\s+2\s+rejected\s*$/m);
    expect(r.output).toMatch(/^SPY\s+order\s+10\s+13\s+applied\s*$/m);
    const truth = server.broker.truth();
    expect(truth.positions.get("SPY")?.toFixed()).toBe("10");
    expect(truth.positions.get("BIL")?.toFixed()).toBe("2");
    const book = JSON.parse(readFileSync(join(work.dir, "book.json"), "utf8"));
    expect(book.positions).toEqual({ SPY: "10" });
    const sells = server.requests().filter((q) => q.method === "POST" && q.path === "/v2/orders");
    expect(sells.map((q) => q.body)).toMatchObject([{ symbol: "SPY", side: "sell", qty: "3" }]);
  });
});

describe("rebalance on a terminal", () => {
  it("shows progress as one line rewritten in place", async () => {
    writeFileSync(join(work.dir, "grow.json"), JSON.stringify({ quantities: { SPY: 12, BIL: 2 } }));
    const r = await runInTerminal(["rebalance", "--targets", "grow.json", "--yes"], []);
    expect(r.code).toBe(0);
    // Each update clears the line and writes it again; no plain progress lines.
    const updates = r.output.split("\r\x1b[2K").slice(1);
    expect(updates.length).toBeGreaterThanOrEqual(4);
    expect(updates.some((u) => u.startsWith("[buys] SPY buy"))).toBe(true);
    expect(updates.some((u) => /^\[(buys|reconcile|done)\] SPY buy filled 2 @ \$500\.00/.test(u))).toBe(true);
    expect(r.output).not.toMatch(/^phase /m);
    expect(r.output).toMatch(/^Rebalance \S+: completed\r?$/m);
    expect(server.broker.truth().positions.get("SPY")?.toFixed()).toBe("12");
  });
});

describe("errors", () => {
  it("a refused key is one line with the code; the secret is never printed, even with --verbose", async () => {
    const wrong = { ...env, APCA_API_SECRET_KEY: "wrong-secret-123456" };
    const plain = await runCli(cli.file, ["account"], { cwd: work.dir, env: wrong });
    expect(plain.code).toBe(1);
    expect(plain.stdout).toBe("");
    expect(plain.stderr).toMatch(/^ordersafe: error \[[a-z_]+\]: [^\n]+\n$/);
    const verbose = await runCli(cli.file, ["account", "--verbose"], { cwd: work.dir, env: wrong });
    expect(verbose.code).toBe(1);
    expect(verbose.stderr).toMatch(/\n\s+at /);
    for (const out of [plain.stdout, plain.stderr, verbose.stdout, verbose.stderr]) {
      expect(out).not.toContain("wrong-secret-123456");
      expect(out).not.toContain(KEY);
    }
  });

  it("a failed rebalance exits 1 (market closed: nothing sent)", async () => {
    writeFileSync(join(work.dir, "t.json"), JSON.stringify({ quantities: { SPY: 15 } }));
    server.broker.setMarketOpen(false);
    const before = server.requests().filter((q) => q.method === "POST").length;
    const r = await runCli(cli.file, ["rebalance", "--targets", "t.json", "--yes"], { cwd: work.dir, env });
    server.broker.setMarketOpen(true);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^Rebalance \S+: failed$/m);
    expect(r.stdout).toContain("error: market_closed: ");
    expect(server.requests().filter((q) => q.method === "POST").length).toBe(before);
  });
});
