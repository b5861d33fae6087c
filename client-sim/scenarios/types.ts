// What a scenario is, and what it gets to work with.
import type { SimOptions, ScenarioName } from '../cli.js';
import type { LocalCluster } from '../local-cluster.js';
import type { SessionPool } from '../pool.js';
import type { RestClient } from '../rest.js';
import type { Rng } from '../rng.js';
import type { World } from '../world.js';

export type Phase = 'ready' | 'load-start' | 'load-end';

/** Callbacks at phase boundaries (the benchmark measures the server between them). */
export interface RunHooks {
  onPhase?(phase: Phase): void | Promise<void>;
}

export interface RunContext {
  readonly options: SimOptions;
  readonly world: World;
  readonly pool: SessionPool;
  readonly rest: RestClient;
  readonly rng: Rng;
  readonly hooks: RunHooks;
  /** The nodes, when client-sim started them (--spawn-cluster). */
  readonly cluster: LocalCluster | undefined;
  /** Scenario figures for the report. */
  readonly notes: Record<string, number | string>;
  /** Reasons the run failed that the accounting cannot see. */
  readonly problems: string[];
  readonly sent: { messages: number; presence: number; failed: number };
  /** Epoch ms past which everything stops. */
  readonly deadline: number;
  left(): number;
  stage(name: string): void;
  note(text: string): void;
  loadStarted(): void;
  loadEnded(): void;
  /** Posts a tracked message to guild index `guild` from a random member; false when it failed. */
  sendMessage(guild: number, key: string): Promise<boolean>;
  /** Has session `session` send a tracked presence update. */
  sendPresence(session: number, key: string, status: 'online' | 'idle' | 'dnd'): Promise<boolean>;
}

/** The world a scenario wants (see world.ts for the rest of the plan). */
export interface WorldShape {
  membership?: (user: number, rng: Rng) => number[];
  label?: (guild: number) => string | undefined;
  intents(session: number): number;
  recordConnect?(session: number): boolean;
}

export interface Scenario {
  name: ScenarioName;
  plan(options: SimOptions): WorldShape;
  run(ctx: RunContext): Promise<void>;
  /** Loss is part of the scenario (none of the built-in ones). */
  expectsLoss?: boolean;
  /** A node is killed: lost sessions, re-IDENTIFY and catch-up through history are part of it (see report.ts). */
  expectsNodeLoss?: boolean;
}
