// The fuzz tests' two knobs, read once and validated (shared with the gateway fuzz test):
//   GUILDHALL_FUZZ_SEED  replays a run (every run prints its seed)
//   GUILDHALL_FUZZ_RUNS  inputs per property (small by default so `npm test` stays fast;
//                        `npm run fuzz` sets a large one)
import { z } from 'zod';

const schema = z.object({
  GUILDHALL_FUZZ_SEED: z.string().regex(/^-?\d+$/, 'GUILDHALL_FUZZ_SEED must be an integer').transform(Number).optional(),
  GUILDHALL_FUZZ_RUNS: z.string().regex(/^\d+$/, 'GUILDHALL_FUZZ_RUNS must be a whole number').transform(Number).pipe(z.number().int().min(1)).optional(),
});

export interface FuzzSettings {
  seed: number;
  runs: number;
}

export function fuzzSettings(defaultRuns: number, env: NodeJS.ProcessEnv = process.env): FuzzSettings {
  const parsed = schema.parse({ GUILDHALL_FUZZ_SEED: env.GUILDHALL_FUZZ_SEED || undefined, GUILDHALL_FUZZ_RUNS: env.GUILDHALL_FUZZ_RUNS || undefined });
  return {
    seed: parsed.GUILDHALL_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31),
    runs: parsed.GUILDHALL_FUZZ_RUNS ?? defaultRuns,
  };
}
