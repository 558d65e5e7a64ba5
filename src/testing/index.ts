// ordersafe/testing: the simulated broker, the virtual clock, the fake Alpaca server and the
// BrokerPort conformance suite. Explicit re-exports only.

export {
  scheduleOn,
  VirtualClock,
  type VirtualClockOptions,
  type VirtualClockRunOptions,
} from "./virtual-clock.js";
