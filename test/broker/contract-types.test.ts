import type {
  AccountSnapshot,
  AccountSnapshotSchema,
  AssetRules,
  AssetRulesSchema,
  ListOrdersQuery,
  ListOrdersQuerySchema,
  MarketClock,
  MarketClockSchema,
  OrderFill,
  OrderRequest,
  OrderRequestSchema,
  OrderSnapshot,
  OrderSnapshotSchema,
  OrderUpdate,
  OrderUpdateSchema,
  PositionSnapshot,
  PositionSnapshotSchema,
} from "ordersafe";
import { describe, expectTypeOf, it } from "vitest";
import type { z } from "zod";

// The contract's interfaces carry the TSDoc users read; the schemas check what a port hands
// back. `tsc --noEmit` (which includes test/) holds each pair equal: a field added, dropped,
// renamed, made optional or retyped on one side only fails the type check. The parse helpers
// return the interfaces without a cast because of this.
describe("contract types equal their schemas' output", () => {
  it("snapshots", () => {
    expectTypeOf<z.output<typeof AccountSnapshotSchema>>().toEqualTypeOf<AccountSnapshot>();
    expectTypeOf<z.output<typeof PositionSnapshotSchema>>().toEqualTypeOf<PositionSnapshot>();
    expectTypeOf<z.output<typeof AssetRulesSchema>>().toEqualTypeOf<AssetRules>();
    expectTypeOf<z.output<typeof MarketClockSchema>>().toEqualTypeOf<MarketClock>();
    expectTypeOf<z.output<typeof OrderSnapshotSchema>>().toEqualTypeOf<OrderSnapshot>();
  });

  it("updates and requests", () => {
    expectTypeOf<z.output<typeof OrderUpdateSchema>>().toEqualTypeOf<OrderUpdate>();
    expectTypeOf<NonNullable<z.output<typeof OrderUpdateSchema>["fill"]>>().toEqualTypeOf<OrderFill>();
    expectTypeOf<z.output<typeof OrderRequestSchema>>().toEqualTypeOf<OrderRequest>();
    expectTypeOf<z.output<typeof ListOrdersQuerySchema>>().toEqualTypeOf<ListOrdersQuery>();
  });
});
