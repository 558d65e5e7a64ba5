// A process that opens an account's file journal on command, for the lock tests: the
// parent sends { cmd, ... } over IPC and gets one reply per command.
import { fileJournal, type JournalEntryInput, type JournalStore } from "ordersafe";

const [dir, account] = process.argv.slice(2) as [string, string];
let store: JournalStore | undefined;

type Command =
  | { cmd: "acquire"; at?: number }
  | { cmd: "append"; entries: JournalEntryInput[] }
  | { cmd: "release" };

const reply = (m: unknown) => process.send?.(m);

process.on("message", async (m: Command) => {
  try {
    if (m.cmd === "acquire") {
      if (m.at !== undefined) await new Promise((r) => setTimeout(r, Math.max(0, m.at! - Date.now())));
      store = fileJournal(dir, { fsync: false });
      try {
        const { runs, warnings } = await store.openRuns(account);
        reply({ ok: true, runs: runs.length, warnings });
      } catch (e) {
        await store.close();
        store = undefined;
        reply({ ok: false, code: (e as { code?: string }).code, message: (e as Error).message });
      }
    } else if (m.cmd === "append") {
      await store!.append(account, m.entries, { durable: true });
      reply({ ok: true });
    } else if (m.cmd === "release") {
      await store?.close();
      store = undefined;
      reply({ ok: true });
    }
  } catch (e) {
    reply({ ok: false, code: (e as { code?: string }).code, message: String(e) });
  }
});
process.on("disconnect", () => process.exit(0));
reply({ ready: true });
