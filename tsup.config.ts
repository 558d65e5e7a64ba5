import { defineConfig } from "tsup";

export default defineConfig([
  {
    entry: {
      index: "src/index.ts",
      "alpaca/index": "src/alpaca/index.ts",
      "testing/index": "src/testing/index.ts",
      "redis/index": "src/redis/index.ts",
    },
    format: ["esm", "cjs"],
    dts: true,
    splitting: true,
    sourcemap: true,
    target: "es2022",
    clean: true,
    minify: false,
    treeshake: false,
  },
  {
    // The `ordersafe` command (package.json `bin`): ESM only, the shebang kept from main.ts.
    entry: { cli: "src/cli/main.ts" },
    format: ["esm"],
    dts: false,
    splitting: true,
    sourcemap: true,
    target: "es2022",
    clean: false,
    minify: false,
    treeshake: false,
  },
]);
