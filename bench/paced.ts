// The paced runs' arithmetic: a fixed offered rate of deliveries becomes a
// rate of messages for a guild of `sessions` (each message is one delivery
// per session), and the run's length bounds how long to wait for it.

export interface PacedPlan {
  /** Messages per second to post. */
  messagesPerS: number;
  /** How long posting `messages` at that rate takes, seconds. */
  seconds: number;
  /** The run's deadline: the posting time plus `slackMs` for the last deliveries. */
  timeoutMs: number;
}

export function pacedPlan(deliveriesPerS: number, sessions: number, messages: number, slackMs = 60_000): PacedPlan {
  if (!(deliveriesPerS > 0) || !(sessions > 0) || !(messages > 0)) throw new RangeError('pacedPlan: rate, sessions and messages must be above 0');
  const messagesPerS = deliveriesPerS / sessions;
  // pacedUntil sends message i at i / rate seconds: the last one leaves at (messages - 1) / rate.
  const seconds = (messages - 1) / messagesPerS;
  return { messagesPerS, seconds, timeoutMs: Math.ceil(seconds * 1000) + slackMs };
}
