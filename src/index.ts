// ordersafe: the broker-agnostic entry. Explicit re-exports only; what is not here is private.

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
  type MarketClock,
  ORDER_SIDES,
  ORDER_TYPES,
  ORDER_UPDATE_EVENTS,
  type OrderFill,
  type OrderRequest,
  type OrderSide,
  type OrderSnapshot,
  type OrderType,
  type OrderUpdate,
  type OrderUpdateEvent,
  type OrderUpdateListener,
  type PositionSnapshot,
  STREAM_STATUSES,
  type StreamStatus,
  type Subscription,
  TIMES_IN_FORCE,
  type TimeInForce,
} from "./broker/broker-port.js";
export { checkBroker } from "./broker/checked-broker.js";
export {
  AccountSnapshotSchema,
  AssetRulesSchema,
  MarketClockSchema,
  OrderRequestSchema,
  OrderSnapshotSchema,
  OrderUpdateSchema,
  PositionSnapshotSchema,
  parseAccountSnapshot,
  parseAssetRules,
  parseLatestPrices,
  parseMarketClock,
  parseOrderRequest,
  parseOrderSnapshot,
  parseOrderSnapshots,
  parseOrderUpdate,
  parsePositionSnapshot,
  parsePositionSnapshots,
} from "./broker/schemas.js";
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
  maxDecimal,
  minDecimal,
  ONE,
  Rounding,
  splitLargestRemainder,
  toDecimal,
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
export { type OrderOutcome, type OrderOutcomeJSON, outcomeToJSON } from "./execution/order-outcome.js";
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
export {
  type PlanJSON,
  type PositionJSON,
  type RebalanceAdjustment,
  type RebalanceMetrics,
  type RebalancePhase,
  type RebalanceReport,
  type RebalanceReportJSON,
  type RebalanceStatus,
  reportToJSON,
} from "./execution/rebalance-report.js";
export {
  type RebalanceRunOptions,
  type RebalancerEvents,
  SMART_REBALANCER_DEFAULTS,
  SmartRebalancer,
  type SmartRebalancerOptions,
} from "./execution/smart-rebalancer.js";

// funds
export {
  type AffordabilityOptions,
  type AffordabilityReport,
  type AvailableBuyingPowerOptions,
  BuyingPowerManager,
  type BuyingPowerManagerOptions,
  type ManagerReserveOptions,
  type OrderSize,
  type ReserveResult,
} from "./funds/buying-power-manager.js";
export {
  type OrderIntent,
  type OrderIntentInput,
  OrderIntentSchema,
  parseOrderIntent,
} from "./funds/order-intent.js";
export {
  type OrderImpact,
  PRE_ORDER_CHECKS,
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
} from "./rebalance/rebalance-input.js";
export {
  LEG_ACTIONS,
  LEG_REASONS,
  type LegAction,
  type LegReason,
  type OrderConflict,
  type RebalanceBudget,
  type RebalanceLeg,
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
  PositionCorrectionEngine,
  type PositionCorrectionEngineOptions,
  type PositionCorrectionEvents,
  type ReconciliationReport,
} from "./reconcile/position-correction-engine.js";
export {
  type AfterOrderReconciliation,
  type DriftScan,
  type FullReconciliation,
  type PositionChange,
  PositionReconciliationEngine,
  type PositionReconciliationEngineOptions,
  type PositionReconciliationEvents,
  type ReconcileCallOptions,
  type ReconcileOrderInput,
  type ReconcileSource,
} from "./reconcile/position-reconciliation-engine.js";
