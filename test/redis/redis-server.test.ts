import { createClient } from "redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRedis, type TestRedis } from "./redis-server.js";

describe("the test redis-server", () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it("is a real Redis 7 with persistence off, on its own socket", async () => {
    const client = createClient({ socket: { path: redis.socket, tls: false } });
    await client.connect();
    try {
      const info = await client.info("server");
      expect(info).toMatch(/redis_version:7\./);
      expect(await client.configGet("save")).toEqual({ save: "" });
      expect(await client.configGet("appendonly")).toEqual({ appendonly: "no" });
      await client.set("k", "v");
      expect(await client.get("k")).toBe("v");
    } finally {
      await client.quit();
    }
  });
});
