// ordersafe/testing: the simulated broker, the virtual clock, the fake Alpaca server and the
// BrokerPort conformance suite. Explicit re-exports only.

// conformance suite
export {
  CONFORMANCE_DEFAULTS,
  type ConformanceDriver,
  type ConformanceOptions,
  type ConformanceSetup,
  type ConformanceTestFunctions,
  type MakeConformanceBroker,
  runBrokerConformance,
} from "./conformance.js";
// fake Alpaca server
export {
  FAKE_ALPACA_SERVER_DEFAULTS,
  type FakeAlpacaFault,
  type FakeAlpacaMatch,
  type FakeAlpacaRequest,
  type FakeAlpacaServer,
  type FakeAlpacaServerOptions,
  startFakeAlpacaServer,
} from "./fake-alpaca-server.js";
// simulated broker
export { SIM_EVENT_TYPES, type SimEvent, type SimEventType } from "./simulated-broker/event-log.js";
export {
  BROKER_METHODS,
  type BrokerMethod,
  REPLY_CORRUPTIONS,
  type ReplyCorruption,
  type ReplyCorruptionScript,
  type ScriptedFault,
  SIM_FAULT_KINDS,
  SIMULATED_BROKER_DEFAULTS,
  type SimFaultKind,
  type SimFaultOptions,
  type SimLagRange,
  type SimReadLag,
  type SimulatedBrokerOptions,
  STALE_READ_METHODS,
  type StaleReadMethod,
} from "./simulated-broker/options.js";
export {
  createSimulatedBroker,
  type SimTruth,
  type SimulatedBroker,
} from "./simulated-broker/simulated-broker.js";
export {
  scheduleOn,
  VIRTUAL_CLOCK_DEFAULTS,
  VirtualClock,
  type VirtualClockOptions,
  type VirtualClockRunOptions,
} from "./virtual-clock.js";
