// Every path param, query string and body goes through a zod schema from
// schemas.ts before a handler looks at it; a failure is Discord's 400
// Invalid Form Body (50035) with the nested `errors` object.
import type { z } from 'zod';
import { invalidFormBody } from '../errors.js';

/** The parsed value, or throws a 50035 HttpError naming each bad field. */
export function parseWith<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw invalidFormBody(result.error, input);
  return result.data;
}

/**
 * A request body: no body at all (no Content-Type, or an empty JSON body)
 * counts as `{}`, so that a missing field is reported by name
 * (BASE_TYPE_REQUIRED) instead of the whole body being "required".
 */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  return parseWith(schema, body === undefined || body === null ? {} : body);
}
