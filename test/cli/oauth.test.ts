// The command with APCA_API_OAUTH_TOKEN only (no key pair): a real `ordersafe` process
// talking to the fake Alpaca server, which lets requests in by the bearer token.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type FakeAlpacaServer, startFakeAlpacaServer } from "ordersafe/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildCli, runCli, workDir } from "./cli-harness.js";
import { RebalanceCommandSchema } from "./cli-schemas.js";

const TOKEN = "oauth-token-value-never-shown-0123";

let cli: { file: string; dispose(): void };
let server: FakeAlpacaServer;
let work: { dir: string; dispose(): void };
let env: Record<string, string>;

beforeAll(async () => {
  cli = await buildCli();
  server = await startFakeAlpacaServer({
    keyId: "PKUNUSEDKEY",
    secret: "unused-secret-value",
    oauthToken: TOKEN,
    cash: 10_000,
    prices: { SPY: 500 },
  });
  work = workDir();
  env = {
    APCA_API_OAUTH_TOKEN: TOKEN,
    APCA_API_BASE_URL: server.baseUrl,
    APCA_API_DATA_URL: server.dataBaseUrl,
    APCA_API_STREAM_URL: server.streamUrl,
    ORDERSAFE_HOME: join(work.dir, "home"),
  };
  writeFileSync(join(work.dir, "targets.json"), JSON.stringify({ quantities: { SPY: 4 } }));
});

afterAll(async () => {
  await server?.close();
  cli?.dispose();
  work?.dispose();
});

describe("ordersafe with APCA_API_OAUTH_TOKEN", () => {
  it("runs an approved rebalance, every request let in by the bearer token", async () => {
    const run = (...args: string[]) => runCli(cli.file, args, { cwd: work.dir, env });
    const done = await run("rebalance", "--targets", "targets.json", "--yes", "--json");
    expect(done.code).toBe(0);
    const parsed = RebalanceCommandSchema.parse(JSON.parse(done.stdout));
    if (!parsed.sent) throw new Error("expected the rebalance to be sent");
    expect(parsed.report.orders.map((o) => `${o.side} ${o.symbol} ${o.state}`)).toEqual(["buy SPY filled"]);
    expect(server.broker.truth().positions.get("SPY")?.toFixed()).toBe("4");

    const requests = server.requests();
    expect(requests.some((r) => r.method === "POST" && r.path === "/v2/orders")).toBe(true);
    expect(requests.filter((r) => r.auth !== "oauth")).toEqual([]);
    for (const out of [done.stdout, done.stderr]) {
      expect(out).not.toContain(TOKEN);
    }
  });

  it("a wrong token is refused: one line with the typed code, the token not shown", async () => {
    const wrong = `${TOKEN}-revoked`;
    const r = await runCli(cli.file, ["account"], {
      cwd: work.dir,
      env: { ...env, APCA_API_OAUTH_TOKEN: wrong },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^ordersafe: error \[unauthorized\]/);
    expect(r.stderr).not.toContain(wrong);
  });
});
