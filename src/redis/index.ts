// Entry `ordersafe/redis`: coordination of several processes (and machines) on one account
// through Redis. The client (node-redis, an optional peer; or ioredis through an adapter) is
// the caller's.

export { fromIoredis, type IoredisLike, type RedisScriptClient } from "./redis-client.js";
export {
  createRedisCoordination,
  REDIS_COORDINATION_DEFAULTS,
  type RedisCoordinationOptions,
} from "./redis-coordination.js";
