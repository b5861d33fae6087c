// A V8 CPU profile (node --cpu-prof), read for the bench scripts that cut one
// by time (profile-split.ts, profile-window.ts, store-profile.ts): each sample
// with its time on CLOCK_MONOTONIC in µs (the clock of the profile's
// timestamps, process.hrtime in another process) and its duration (the delta
// to the next sample), and each node's frame and parent, to walk a stack.
import { readFileSync } from 'node:fs';
import { z } from 'zod';

const profileSchema = z.object({
  nodes: z.array(
    z.object({
      id: z.number(),
      callFrame: z.object({ functionName: z.string(), url: z.string(), lineNumber: z.number() }),
      children: z.array(z.number()).optional(),
    }),
  ),
  startTime: z.number(),
  endTime: z.number(),
  samples: z.array(z.number()),
  timeDeltas: z.array(z.number()),
});

export interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

export interface ProfileSample {
  /** The sampled node (the stack's leaf). */
  id: number;
  /** µs, CLOCK_MONOTONIC. */
  at: number;
  /** µs until the next sample. */
  us: number;
}

export interface CpuProfile {
  startTime: number;
  endTime: number;
  samples: ProfileSample[];
  frame(id: number): CallFrame;
  parent(id: number): number | undefined;
  /** `function dir/file:line`, the URL cut to its last two segments. */
  label(id: number): string;
}

export function readCpuProfile(path: string): CpuProfile {
  const profile = profileSchema.parse(JSON.parse(readFileSync(path, 'utf8')));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parents = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parents.set(c, n.id);
  const samples: ProfileSample[] = [];
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i]!;
    samples.push({ id: profile.samples[i]!, at, us: profile.timeDeltas[i + 1] ?? 0 });
  }
  const frame = (id: number) => byId.get(id)!.callFrame;
  return {
    startTime: profile.startTime,
    endTime: profile.endTime,
    samples,
    frame,
    parent: (id) => parents.get(id),
    label(id) {
      const f = frame(id);
      return `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(?=[^/]+\/[^/]+$)/, '')}:${f.lineNumber + 1}`;
    },
  };
}
