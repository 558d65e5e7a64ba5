// ordersafe: the broker-agnostic entry. Explicit re-exports only; what is not here is private.

// account: asset rules and the market clock reused within a TTL
export { ASSET_REFUSAL_CODES, ASSET_RULES_CACHE_DEFAULTS } from "./account/asset-rules-cache.js";
export { MARKET_CLOCK_CACHE_DEFAULTS } from "./account/market-clock-cache.js";
// broker contract
export {
  type AccountSnapshot,
  type AssetRules,
  BROKER_METHODS,
  BROKER_ORDER_STATUSES,
  type BrokerCapabilities,
  type BrokerMethod,
  type BrokerOrderStatus,
  type BrokerPort,
  type CallOptions,
  FINAL_BROKER_STATUSES,
  isFinalBrokerStatus,
  type ListOrdersQuery,
  type MarketClock,
  ORDER_LIST_STATUSES,
  ORDER_SIDES,
  ORDER_TYPES,
  ORDER_UPDATE_EVENTS,
  type OrderFill,
  type OrderListStatus,
  type OrderRequest,
  type OrderSide,
  type OrderSnapshot,
  type OrderType,
  type OrderUpdate,
  type OrderUpdateEvent,
  type OrderUpdateListener,
  type PositionSnapshot,
  type Quote,
  type ReplaceOrderChanges,
  STREAM_STATUSES,
  type StreamStatus,
  type Subscription,
  TIMES_IN_FORCE,
  type TimeInForce,
} from "./broker/broker-port.js";
export { checkBroker, WRAPPED_PORT } from "./broker/checked-broker.js";
export {
  AccountSnapshotSchema,
  AssetRulesSchema,
  ListOrdersQuerySchema,
  MarketClockSchema,
  OrderRequestSchema,
  OrderSnapshotSchema,
  OrderUpdateSchema,
  orderReplyMismatches,
  PositionSnapshotSchema,
  parseAccountSnapshot,
  parseAssetRules,
  parseLatestPrices,
  parseLatestQuotes,
  parseListOrdersQuery,
  parseMarketClock,
  parseOrderRequest,
  parseOrderSnapshot,
  parseOrderSnapshots,
  parseOrderUpdate,
  parsePositionSnapshot,
  parsePositionSnapshots,
  parseReplaceOrderChanges,
  QuoteSchema,
  ReplaceOrderChangesSchema,
} from "./broker/schemas.js";
// coordination
export {
  COORDINATION_DEFAULTS,
  type Coordination,
  type CoordinationLease,
  type CoordinationLedger,
  fromMicros,
  HOLD_STATES,
  type Hold,
  type HoldRequest,
  type HoldResult,
  type HoldState,
  type LeaseGrant,
  type RateLimiter,
  toMicros,
} from "./coordination/coordination.js";
export {
  type InProcessCoordinationOptions,
  inProcessCoordination,
} from "./coordination/in-process-coordination.js";
// core
export { abortReason, type Clock, systemClock, throwIfAborted } from "./core/clock.js";
export {
  ceilToIncrement,
  Decimal,
  type DecimalLike,
  floorToIncrement,
  formatDecimal,
  INCREMENT_SNAP,
  isDecimal,
  isMultipleOf,
  MAX_DECIMAL_EXPONENT,
  maxDecimal,
  minDecimal,
  ONE,
  Rounding,
  splitLargestRemainder,
  toDecimal,
  tryToDecimal,
  ZERO,
} from "./core/decimal.js";
export {
  BROKER_ERROR_CODES,
  BrokerError,
  type BrokerErrorCode,
  type BrokerErrorOptions,
  isBrokerError,
  isOrdersafeError,
  isValidationError,
  ORDERSAFE_ERROR_CODES,
  OrdersafeError,
  type OrdersafeErrorCode,
  type OrdersafeErrorOptions,
  ValidationError,
  type ValidationErrorOptions,
  type ValidationIssue,
} from "./core/errors.js";
export { type ClientOrderIdParts, clientOrderId, MAX_CLIENT_ORDER_ID_LENGTH, makeRunId } from "./core/ids.js";
export { type Logger, silentLogger } from "./core/logger.js";
export { createRandom, type Random } from "./core/random.js";
export type { AbandonReport } from "./execution/abandon-flow.js";
// execution
export {
  type ExecuteOrderOptions,
  type FundsReservation,
  type IntentValidation,
  ORDER_EXECUTION_COORDINATOR_DEFAULTS,
  OrderExecutionCoordinator,
  type OrderExecutionCoordinatorOptions,
  type OrderTracking,
  type PositionReconciliation,
} from "./execution/order-execution-coordinator.js";
export {
  type OrderExecution,
  type OrderExecutionJSON,
  type OrderOutcome,
  type OrderOutcomeJSON,
  outcomeToJSON,
} from "./execution/order-outcome.js";
export {
  type ExecuteWithRetryOptions,
  ORDER_RETRY_ENGINE_DEFAULTS,
  OrderRetryEngine,
  type OrderRetryEngineEvents,
  type OrderRetryEngineOptions,
  type RetryAction,
  type RetryDecision,
  type SubmitResult,
  toRequest,
} from "./execution/order-retry-engine.js";
// execution policies
export {
  type ExecutionChoice,
  type ExecutionChoiceInput,
  type PolicyOrPreset,
  parseExecutionChoice,
  policyFor,
} from "./execution/policies/execution-choice.js";
export {
  EXECUTION_POLICY_DEFAULTS,
  EXECUTION_POLICY_TYPES,
  EXECUTION_PRESETS,
  type ExecutionPolicy,
  type ExecutionPolicyInput,
  ExecutionPolicySchema,
  type ExecutionPolicyType,
  type ExecutionPresetName,
  FINAL_ACTIONS,
  type FinalAction,
  NO_QUOTE_ACTIONS,
  type NoQuoteAction,
  parseExecutionPolicy,
  SPREAD_ACTIONS,
  type SpreadAction,
  STEP_STARTS,
  type StepStart,
} from "./execution/policies/execution-policy.js";
export {
  type ExecuteLegOptions,
  executeLeg,
  type HeldOrder,
  LEG_STATES,
  type LegFunds,
  type LegOrderReport,
  type LegReport,
  type LegState,
  type PolicyLeg,
} from "./execution/policies/leg-executor.js";
export {
  marketableLimit,
  midOf,
  type QuoteProblem,
  quoteProblem,
  slippageCapPrice,
  slippageOf,
  spreadBpsOf,
  stepLimit,
  toTick,
  withinCap,
} from "./execution/policies/limit-pricing.js";
export {
  isRebalanceAbortedError,
  type RebalanceAbortedDetails,
  RebalanceAbortedError,
} from "./execution/rebalance-aborted-error.js";
export {
  BUY_PASS_REASONS,
  type BuyPassReason,
  type BuyPassReport,
  type ExecutionTotals,
  type PlanJSON,
  type PositionJSON,
  REBALANCE_ADJUSTMENT_REASONS,
  type RebalanceAdjustment,
  type RebalanceAdjustmentReason,
  type RebalanceMetrics,
  type RebalancePhase,
  type RebalanceReport,
  type RebalanceReportJSON,
  type RebalanceStatus,
  reportToJSON,
  TAKE_OVER_KINDS,
  type TakenOverRun,
  type TakeOverKind,
  type WorkingOrder,
} from "./execution/rebalance-report.js";
export {
  type RebalanceRunOptions,
  type RebalancerEvents,
  SMART_REBALANCER_DEFAULTS,
  SmartRebalancer,
  type SmartRebalancerOptions,
} from "./execution/smart-rebalancer.js";
export type { UnfinishedOrder, UnfinishedOrderState, UnfinishedRun } from "./execution/unfinished-run.js";
export { formatPlan } from "./format/format-plan.js";
export { formatDrifts, formatReport } from "./format/format-report.js";
// format
export { formatMoney, formatPercent, formatQty } from "./format/money.js";
export { PLAN_HASH_LENGTH, planHash } from "./format/plan-hash.js";
export { COLUMN_ALIGNS, type ColumnAlign, formatTable, type TableColumn } from "./format/table.js";
// funds
export {
  type AffordabilityOptions,
  type AffordabilityReport,
  type AvailableBuyingPowerOptions,
  BUYING_POWER_MANAGER_DEFAULTS,
  BuyingPowerManager,
  type BuyingPowerManagerOptions,
  type ManagerReserveOptions,
  type OrderSize,
  type ReserveResult,
} from "./funds/buying-power-manager.js";
export {
  LEDGER_CASH_VIEW_DEFAULTS,
  type LedgerCashDrift,
  LedgerCashView,
  type LedgerCashViewOptions,
} from "./funds/ledger-cash-view.js";
export {
  type OrderIntent,
  type OrderIntentInput,
  OrderIntentSchema,
  parseOrderIntent,
} from "./funds/order-intent.js";
export {
  type OrderImpact,
  PRE_ORDER_CHECKS,
  PRE_ORDER_VALIDATOR_DEFAULTS,
  type PreOrderCheck,
  type PreOrderCheckName,
  type PreOrderContext,
  type PreOrderReport,
  PreOrderValidator,
  type PreOrderValidatorOptions,
  type RiskLimits,
} from "./funds/pre-order-validator.js";
export { DEFAULT_MARKET_BUY_BUFFER, type FundedOrder, requiredFunds } from "./funds/required-funds.js";
export {
  FUNDING_BASES,
  type FundingBasis,
  type LedgerDrift,
  type LedgerRecomputeResult,
  type LedgerReserveOptions,
  type LedgerReserveResult,
  RESERVATION_LEDGER_DEFAULTS,
  type Reservation,
  type ReservationFill,
  ReservationLedger,
  type ReservationLedgerOptions,
} from "./funds/reservation-ledger.js";
// journal
export {
  type FileJournalOptions,
  fileJournal,
  type JournalFileHandle,
  type OpenJournalFile,
} from "./journal/file-journal.js";
export {
  ANSWER_RESULTS,
  type AnswerEntry,
  AnswerEntrySchema,
  type AnswerResult,
  type FinalEntry,
  FinalEntrySchema,
  type IntentEntry,
  IntentEntrySchema,
  JOURNAL_ENTRY_TYPES,
  JOURNAL_ENTRY_VERSION,
  type JournalEntry,
  type JournalEntryInput,
  JournalEntrySchema,
  type JournalEntryType,
  type NotPlacedEntry,
  NotPlacedEntrySchema,
  parseJournalEntry,
  RUN_OUTCOMES,
  type RunEndEntry,
  RunEndEntrySchema,
  type RunOutcome,
  type RunStartEntry,
  RunStartEntrySchema,
  SEND_OPS,
  type SendEntry,
  SendEntrySchema,
  type SendOp,
} from "./journal/journal-entry.js";
export type {
  CompactResult,
  FinishRunOptions,
  JournalAppendOptions,
  JournalCallOptions,
  JournalRun,
  JournalStore,
  JournalWarning,
  OpenRuns,
} from "./journal/journal-store.js";
export { type MemoryJournalOptions, memoryJournal } from "./journal/memory-journal.js";
// observability
export {
  ALERT_DEFAULTS,
  ALERT_KINDS,
  type Alert,
  type AlertKind,
  type AlertMonitor,
  type AlertMonitorOptions,
  type AlertOptions,
  type AlertSink,
  type AlertSource,
  type AlertThresholds,
  type RebalancerAlertsOptions,
  RebalancerAlertsOptionsSchema,
  watchAlerts,
  watchRebalancerAlerts,
} from "./observability/alerts.js";
export {
  instrumentRebalancer,
  METRICS,
  type MeterLike,
  type MetricAttributes,
  type MetricsOptions,
  type RebalancerMetrics,
} from "./observability/metrics.js";
export { WEBHOOK_SINK_DEFAULTS, type WebhookSinkOptions, webhookSink } from "./observability/webhook-sink.js";
// orders
export {
  type CreateOrderStateInput,
  createOrderState,
  FINAL_ORDER_STATUSES,
  type FinalOrderState,
  type FinalOrderStatus,
  type IgnoredReason,
  isAllowedTransition,
  isFinalOrderStatus,
  ORDER_TRANSITIONS,
  type OrderEffect,
  type OrderEvent,
  type OrderHistoryEntry,
  type OrderState,
  type OrderStatus,
  type TransitionResult,
  toFinalOrderState,
  transition,
  WORKING_ORDER_STATUSES,
  type WorkingOrderStatus,
} from "./orders/order-state-machine.js";
export {
  type IllegalTransitionInfo,
  ORDER_TRACKER_DEFAULTS,
  type OrderFillInfo,
  OrderTracker,
  type OrderTrackerEvents,
  type OrderTrackerOptions,
  type OrderTrackerStats,
  type StreamDownReason,
  type TrackInput,
  type WaitForFinalOptions,
} from "./orders/order-tracker.js";
// rebalance
export { calculateRebalanceOrders } from "./rebalance/calculate-rebalance-orders.js";
export {
  REBALANCE_DEFAULTS,
  RebalanceCapabilitiesSchema,
  type RebalanceInput,
  type RebalanceInputInput,
  RebalanceInputSchema,
  type RebalanceOptions,
  type RebalanceOptionsInput,
  RebalanceOptionsSchema,
  type RebalanceTargets,
  type RebalanceTargetsInput,
  RebalanceTargetsSchema,
  ROUNDING_MODES,
  WEIGHT_SUM_TOLERANCE,
} from "./rebalance/rebalance-input.js";
export {
  CONFLICT_REASONS,
  type ConflictReason,
  LEG_ACTIONS,
  LEG_REASONS,
  type LegAction,
  type LegReason,
  type NotionalLeg,
  type OrderConflict,
  type QuantityLeg,
  type RebalanceBudget,
  type RebalanceLeg,
  type RebalanceLegFields,
  type RebalancePlan,
  type RebalanceSummary,
  SKIP_REASONS,
  type SkippedSymbol,
  type SkipReason,
} from "./rebalance/rebalance-plan.js";
// reconcile
export {
  DEFAULT_DRIFT_NOTIONAL_TOLERANCE,
  DEFAULT_QTY_INCREMENT,
  type DecimalMapInput,
  type DetectPositionDriftOptions,
  DRIFT_CLASSES,
  type DriftClass,
  type DriftOrder,
  type DriftTolerance,
  detectPositionDrift,
  driftToJSON,
  type PositionDrift,
  type PositionDriftJSON,
} from "./reconcile/detect-position-drift.js";
export {
  type BookFill,
  type BookFillResult,
  type BookOrderRecord,
  PositionBook,
  type PositionBookJSON,
} from "./reconcile/position-book.js";
export {
  CORRECTION_MODES,
  type CorrectionAction,
  type CorrectionActionJSON,
  type CorrectionAlert,
  type CorrectionAlertReason,
  type CorrectionMode,
  type CorrectionPolicyAction,
  type CorrectionRun,
  type CorrectionStatus,
  type CorrectiveOrderIntent,
  DEFAULT_CORRECTION_POLICY,
  POSITION_CORRECTION_DEFAULTS,
  PositionCorrectionEngine,
  type PositionCorrectionEngineOptions,
  type PositionCorrectionEvents,
  type ReconciliationReport,
} from "./reconcile/position-correction-engine.js";
export {
  type AfterOrderReconciliation,
  type DriftScan,
  type FullReconciliation,
  POSITION_RECONCILIATION_DEFAULTS,
  type PositionChange,
  PositionReconciliationEngine,
  type PositionReconciliationEngineOptions,
  type PositionReconciliationEvents,
  type ReconcileCallOptions,
  type ReconcileOrderInput,
  type ReconcileSource,
} from "./reconcile/position-reconciliation-engine.js";
