// What the viewer and the debug-sampling endpoints accept, validated once at
// the boundary (a failure is Discord's 400 / 50035, or its page twin).
import { z } from 'zod';
import { snowflakeSchema } from '../rest/schemas.js';
import { MAX_DEBUG_MINUTES, MIN_DEBUG_MINUTES } from './guild-debug.js';

/** An HTML form submits empty fields as empty strings: those mean "no filter". */
function withoutEmpty(input: unknown): unknown {
  if (input === null || typeof input !== 'object') return input;
  return Object.fromEntries(Object.entries(input).filter(([, v]) => v !== ''));
}

export const traceListQuerySchema = z.preprocess(
  withoutEmpty,
  z.object({
    guild: snowflakeSchema.optional(),
    min_duration_ms: z.coerce.number().min(0).max(86_400_000).optional(),
    // tail=1: only traces holding a tail-capture span (a slow delivery or guild message).
    tail: z.enum(['0', '1', 'true', 'false']).transform((v) => v === '1' || v === 'true').optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
  }),
);
export type TraceListFilters = z.output<typeof traceListQuerySchema>;

/** W3C trace ids: 32 lowercase hex digits, not all zero (uppercase is accepted and folded). */
export const traceParamsSchema = z.object({
  trace_id: z
    .string()
    .transform((s) => s.toLowerCase())
    .refine((s) => /^[0-9a-f]{32}$/.test(s) && !/^0+$/.test(s), 'Value is not a trace id.'),
});

export const debugWindowBodySchema = z.object({
  minutes: z.number().int().min(MIN_DEBUG_MINUTES).max(MAX_DEBUG_MINUTES),
});

/**
 * How the actor top can be ordered (descending). `now` (the default) is the
 * handling time per second right now, so the actor that is busiest at the
 * moment leads even if others did more earlier in the minute (`busy`).
 */
export const ACTOR_SORTS = ['now', 'busy', 'wait_p99', 'depth', 'oldest', 'rate', 'restarts'] as const;
export type ActorSort = (typeof ACTOR_SORTS)[number];

export const actorTopQuerySchema = z.preprocess(
  withoutEmpty,
  z.object({
    sort: z.enum(ACTOR_SORTS).default('now'),
    kind: z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, 'Value is not an actor kind.').optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(50),
  }),
);
export type ActorTopQuery = z.output<typeof actorTopQuerySchema>;
