// Command-line flags of the benchmarks: node's parseArgs for the syntax, then
// zod for the values, once; any error goes to `fail` (which prints usage and exits).
import { type ParseArgsConfig, parseArgs } from 'node:util';
import type { z } from 'zod';

export function parseFlags<S extends z.ZodType>(
  argv: string[],
  options: NonNullable<ParseArgsConfig['options']>,
  schema: S,
  fail: (message: string) => never,
  rename: (values: Record<string, unknown>) => Record<string, unknown> = (v) => v,
): z.infer<S> {
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({ args: argv, strict: true, allowPositionals: false, options }));
  } catch (err) {
    return fail((err as Error).message);
  }
  const parsed = schema.safeParse(rename(values));
  if (!parsed.success) return fail(parsed.error.issues.map((i) => i.message).join('; '));
  return parsed.data;
}
