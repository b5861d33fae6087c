// Stable error codes of the actor runtime. Callers and tests match on `code`,
// never on message text (as with ws's WS_ERR_* and fastify's FST_ERR_*).

export const ActorErrorCode = {
  /** A `call` got no reply within its timeout. */
  CALL_TIMEOUT: 'ACTOR_ERR_CALL_TIMEOUT',
  /** The target actor is stopped (or was never there). */
  STOPPED: 'ACTOR_ERR_STOPPED',
  /** The target mailbox is full and its overflow policy refused or evicted the message. */
  MAILBOX_FULL: 'ACTOR_ERR_MAILBOX_FULL',
  /** The actor crashed while handling this call. */
  CRASHED: 'ACTOR_ERR_CRASHED',
  /** The behaviour has no handler for this kind of message. */
  NO_HANDLER: 'ACTOR_ERR_NO_HANDLER',
  /** `deferReply()` outside the handling of a call. */
  NOT_IN_CALL: 'ACTOR_ERR_NOT_IN_CALL',
  /** The target's node stopped answering (no heartbeat within the bound), or went away. */
  NODE_DOWN: 'ACTOR_ERR_NODE_DOWN',
  /** A message (or reply) that must cross to another node holds something that cannot be serialised. */
  NOT_SERIALISABLE: 'ACTOR_ERR_NOT_SERIALISABLE',
  /** A spawn option was invalid, or a registry key is taken. */
  INVALID_SPAWN: 'ACTOR_ERR_INVALID_SPAWN',
} as const;

export type ActorErrorCode = (typeof ActorErrorCode)[keyof typeof ActorErrorCode];

export class ActorError extends Error {
  readonly code: ActorErrorCode;

  constructor(code: ActorErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ActorError';
    this.code = code;
  }
}

export function isActorError(err: unknown, code?: ActorErrorCode): err is ActorError {
  return err instanceof ActorError && (code === undefined || err.code === code);
}
