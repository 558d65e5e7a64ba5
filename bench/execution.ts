// npm run bench:execution — what each execution policy pays, beside market orders in the same
// run: on the simulated broker's quote model (a mid walking every second, a spread around it,
// resting limits filled when the market reaches them or by passive-fill draws), at several
// spreads and volatilities. Per policy: slippage against the arrival mid (bps of the filled
// notional, the mean and the 90th percentile of legs), fill rate (shares filled / asked),
// time to complete (virtual seconds, the mean), and the idle cash the holds of a buy lock
// beyond what it fills (bps of the notional, the peak hold's excess).
//
// LEGS=40 per cell by default (env LEGS); half buys, half sells; 100 shares of a $100 stock;
// the same seeds for every policy of a cell, so each one meets the same quote paths.

import {
  Decimal,
  EXECUTION_PRESETS,
  type ExecutionPolicyInput,
  executeLeg,
  type LegFunds,
} from "../src/index.js";
import { createSimulatedBroker, VirtualClock } from "../src/testing/index.js";

const LEGS = Number(process.env.LEGS ?? 40);
const SPREADS_BPS = [5, 20, 50];
const VOLATILITIES_BPS = [2, 10];
const QTY = 100;
const PRICE = 100;

const POLICIES: Record<string, ExecutionPolicyInput> = {
  market: EXECUTION_PRESETS.market,
  "marketable(10bp)": EXECUTION_PRESETS.marketable,
  "patient(4×5s→mkt)": EXECUTION_PRESETS.patient,
  "passive(6×10s→cancel)": EXECUTION_PRESETS.passive,
  "lumibot(12×10s→mkt)": EXECUTION_PRESETS.lumibot_smart,
};

interface Cell {
  slippageBps: number[];
  filled: number;
  asked: number;
  seconds: number[];
  idleBps: number[];
}

function holdLedger(): LegFunds & { peak: Decimal } {
  const held = new Map<string, Decimal>();
  const funds = {
    peak: new Decimal(0),
    reserve(key: string, amount: Decimal) {
      held.set(key, amount);
      const total = [...held.values()].reduce((s, x) => s.plus(x), new Decimal(0));
      if (total.gt(funds.peak)) funds.peak = total;
      return true;
    },
    release(key: string) {
      held.delete(key);
    },
  };
  return funds;
}

async function leg(policy: ExecutionPolicyInput, seed: number, spreadBps: number, volatilityBps: number) {
  const clock = new VirtualClock();
  const broker = createSimulatedBroker({
    clock,
    seed,
    cash: 10_000_000,
    prices: { XYZ: PRICE },
    positions: { XYZ: 10_000 },
    latency: { restMs: 20, fillMs: 50, streamMs: 5 },
    quotes: { spreadBps, volatilityBps, stepMs: 1_000 },
  });
  const side = seed % 2 === 0 ? "buy" : "sell";
  const funds = holdLedger();
  const started = clock.now();
  const r = await clock.run(
    executeLeg({ symbol: "XYZ", side, qty: new Decimal(QTY) }, policy, {
      broker,
      clock,
      runId: `bench-${seed}`,
      funds,
    }),
  );
  const notional = PRICE * QTY;
  const filledNotional = r.avgPrice?.times(r.filledQty).toNumber() ?? 0;
  return {
    slippageBps: r.slippageBps,
    filled: r.filledQty.toNumber(),
    seconds: (clock.now() - started) / 1000,
    idleBps:
      side === "buy" ? (Math.max(0, funds.peak.toNumber() - filledNotional) / notional) * 10_000 : undefined,
  };
}

const mean = (xs: number[]) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);
const p90 = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(0.9 * s.length))] ?? 0;
};
const fmt = (x: number, d = 2) => x.toFixed(d).padStart(8);

async function main() {
  const t0 = Date.now();
  console.log(
    `execution policies: ${LEGS} legs per cell of ${QTY} shares at $${PRICE} (half buys, half sells)`,
  );
  console.log(
    "slippage vs the arrival mid in bps of the filled notional (mean, p90); fill rate; mean seconds; idle cash of buys' holds in bps of notional\n",
  );
  for (const spreadBps of SPREADS_BPS) {
    for (const volatilityBps of VOLATILITIES_BPS) {
      console.log(`spread ${spreadBps} bps, volatility ${volatilityBps} bps per 1 s step`);
      console.log(
        `  ${"policy".padEnd(24)} ${"slip".padStart(8)} ${"p90".padStart(8)} ${"fill%".padStart(8)} ${"secs".padStart(8)} ${"idle".padStart(8)}  vs market`,
      );
      let marketSlip: number | undefined;
      for (const [name, policy] of Object.entries(POLICIES)) {
        const cell: Cell = { slippageBps: [], filled: 0, asked: 0, seconds: [], idleBps: [] };
        for (let i = 0; i < LEGS; i++) {
          const r = await leg(policy, 1_000 + i, spreadBps, volatilityBps);
          if (r.filled > 0) cell.slippageBps.push(r.slippageBps);
          cell.filled += r.filled;
          cell.asked += QTY;
          cell.seconds.push(r.seconds);
          if (r.idleBps !== undefined) cell.idleBps.push(r.idleBps);
        }
        const slip = mean(cell.slippageBps);
        if (name === "market") marketSlip = slip;
        const ratio =
          marketSlip === undefined || marketSlip === 0 ? "" : `${((slip / marketSlip) * 100).toFixed(0)}%`;
        console.log(
          `  ${name.padEnd(24)} ${fmt(slip)} ${fmt(p90(cell.slippageBps))} ${fmt((cell.filled / cell.asked) * 100, 1)} ${fmt(mean(cell.seconds), 1)} ${fmt(mean(cell.idleBps), 1)}  ${ratio}`,
        );
      }
      console.log("");
    }
  }
  console.log(`(${((Date.now() - t0) / 1000).toFixed(1)} s of real time)`);
}

await main();
