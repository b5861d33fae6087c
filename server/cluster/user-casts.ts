// Events aimed at one user rather than at a guild's subscribers (today: a
// guild they joined, so their sessions send GUILD_CREATE) reach that user's
// sessions on every node. A session lives wherever its socket landed, while
// the request or the guild that caused the event may run anywhere. The events
// are rare (a guild created, a member added), so one subject per cluster that
// every node subscribes to is enough: no routing by user.
import type { NatsConnection } from '../../cluster/index.js';
import { z } from 'zod';
import type { SessionDirectory, UserCast } from '../context.js';

const snowflake = z.string().regex(/^\d{1,20}$/);

// From another process: checked before any session sees it.
const frameSchema = z.object({
  f: z.string().min(1),
  u: snowflake,
  c: z.object({ type: z.literal('guild_joined'), guildId: snowflake }),
});

export interface UserCastStats {
  sent: number;
  received: number;
  malformed: number;
}

export class UserCasts {
  readonly stats: UserCastStats = { sent: 0, received: 0, malformed: 0 };
  private readonly subscription: ReturnType<NatsConnection['subscribe']>;
  private readonly subject: string;

  constructor(
    private readonly nats: NatsConnection,
    /** GUILDHALL_CLUSTER: the subject is `${cluster}.users`. */
    cluster: string,
    private readonly node: string,
    private readonly sessions: SessionDirectory,
  ) {
    this.subject = `${cluster}.users`;
    this.subscription = nats.subscribe(this.subject, {
      callback: (err, msg) => {
        if (err === null) this.receive(msg.string());
      },
    });
    sessions.elsewhere = (userId, cast) => this.send(userId, cast);
  }

  close(): void {
    if (this.sessions.elsewhere !== undefined) this.sessions.elsewhere = undefined;
    this.subscription.unsubscribe();
  }

  private send(userId: string, cast: UserCast): void {
    this.stats.sent++;
    this.nats.publish(this.subject, JSON.stringify({ f: this.node, u: userId, c: cast }));
  }

  private receive(text: string): void {
    let frame: z.infer<typeof frameSchema>;
    try {
      const parsed = frameSchema.safeParse(JSON.parse(text));
      if (!parsed.success) throw parsed.error;
      frame = parsed.data;
    } catch {
      this.stats.malformed++;
      return;
    }
    // Our own, echoed back: its sessions here were told already.
    if (frame.f === this.node) return;
    this.stats.received++;
    this.sessions.tellHere(frame.u, frame.c);
  }
}
