// Public API of the server: what an embedding program, the client simulator's
// tests or a cluster launcher may use. Internals (routes, hooks, actor
// behaviours) stay behind it.
export { createServer, BODY_LIMIT_BYTES, type CreateServerOptions, type GuildhallServer } from './app.js';
export { loadConfig, publicBaseUrl, formatConfigError, ConfigError, LOG_LEVELS, type Config, type ConfigIssue, type LogLevel } from './config.js';
export { seedDemoWorld, type SeedResult, type SeededGuild, type SeededUser } from './seed.js';
export { createLogger, traceFields, type LoggerOptions, type ServerLogger } from './logger.js';
export { callGuild, SessionDirectory, type Logger, type ServerContext } from './context.js';
export {
  HttpError,
  httpError,
  isHttpError,
  rateLimited,
  RestErrors,
  GatewayCloseCode,
  canReconnect,
  canResume,
  type RestErrorBody,
  type RestErrorName,
} from './errors.js';
export { issueToken, verifyToken, parseAuthorization } from './auth/token.js';
export { SnowflakeGenerator, isSnowflake, timestampOf, type Snowflake } from './ids/snowflake.js';
export { openSqlStore, SqlStore, type SqlStoreOptions } from './store/sql-store.js';
export { StoreError, isStoreError, type StoreErrorCode } from './store/errors.js';
export type { DatabaseTarget } from './store/database.js';
export type { Store, GuildWrite, WriteOutcome, UserRecord, GuildRecord, ChannelRecord, MemberRecord, MessageRecord, StoredNonce } from './store/store.js';
export { API_PREFIX } from './rest/api.js';
export { RateLimiter, type RateLimiterOptions } from './rest/auth.js';
export { RouteLimiter, ROUTE_LIMITS, DEFAULT_ROUTE_LIMIT, type RouteLimit, type RouteLimiterOptions } from './rest/route-limits.js';
export { attachGateway, type GatewayServer } from './gateway/gateway-server.js';
