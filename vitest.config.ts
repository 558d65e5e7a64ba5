import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const src = (p: string) => fileURLToPath(new URL(`./src/${p}`, import.meta.url));

export default defineConfig({
  resolve: {
    alias: [
      { find: /^ordersafe\/alpaca$/, replacement: src("alpaca/index.ts") },
      { find: /^ordersafe\/testing$/, replacement: src("testing/index.ts") },
      { find: /^ordersafe\/redis$/, replacement: src("redis/index.ts") },
      { find: /^ordersafe$/, replacement: src("index.ts") },
    ],
  },
  test: {
    include: ["test/**/*.test.ts"],
    // The JSON report lets .ci/run print a plain "N passed, N failed" line.
    reporters: ["default", ["json", { outputFile: "node_modules/.cache/ordersafe/vitest.json" }]],
    environment: "node",
    pool: "forks",
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
