// The scenarios by name.
import type { ScenarioName } from '../cli.js';
import { broadcast } from './broadcast.js';
import { chat } from './chat.js';
import { connectStorm } from './connect-storm.js';
import { hotGuild } from './hot-guild.js';
import { nodeKill } from './node-kill.js';
import { presence } from './presence.js';
import { resumeStorm } from './resume-storm.js';
import { rollingRestart } from './rolling-restart.js';
import type { Scenario } from './types.js';

export type { Phase, RunContext, RunHooks, Scenario, WorldShape } from './types.js';

export const scenarios: Readonly<Record<ScenarioName, Scenario>> = {
  chat,
  broadcast,
  'hot-guild': hotGuild,
  'connect-storm': connectStorm,
  'resume-storm': resumeStorm,
  presence,
  'rolling-restart': rollingRestart,
  'node-kill': nodeKill,
};

export function scenarioFor(name: ScenarioName): Scenario {
  return scenarios[name];
}
