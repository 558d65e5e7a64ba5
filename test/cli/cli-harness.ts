// Runs the `ordersafe` command as a child process: src/cli/main.ts bundled once per test file
// with esbuild (plain `node` then starts it in a fraction of tsx's time), then spawned.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";

const root = join(__dirname, "..", "..");

/**
 * Bundles the command into a directory under node_modules/.cache (so the adapter's peer
 * dependencies resolve from the repository); returns the file and a cleanup.
 */
export async function buildCli(): Promise<{ file: string; dispose(): void }> {
  const cache = join(root, "node_modules", ".cache", "ordersafe");
  mkdirSync(cache, { recursive: true });
  const dir = mkdtempSync(join(cache, "cli-"));
  const file = join(dir, "cli.mjs");
  await build({
    entryPoints: [join(root, "src", "cli", "main.ts")],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    outfile: file,
    // The adapter's peer dependencies stay outside, resolved from the repository.
    external: ["@alpacahq/alpaca-trade-api", "ws"],
    logLevel: "silent",
  });
  return { file, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

/** What a run of the command gave. */
export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node <cli> ...args` in `cwd` with exactly `env` (plus PATH). */
export function runCli(
  file: string,
  args: readonly string[],
  options: { cwd: string; env: Record<string, string> },
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file, ...args], {
      cwd: options.cwd,
      env: { PATH: process.env.PATH ?? "", ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** A fresh working directory. */
export function workDir(): { dir: string; dispose(): void } {
  const dir = mkdtempSync(join(tmpdir(), "ordersafe-cli-work-"));
  return { dir, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}
