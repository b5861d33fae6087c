// Correctness accounting. Two independent checks, so that one bug cannot hide
// behind the other:
// - SeqTracker: per gateway session, every dispatch seq from 1 upward is seen
//   exactly once (gaps = lost events of any kind, repeats = duplicates, a
//   missing seq arriving late = out of order). It spans RESUMEs: a resumed
//   session continues its numbering, and the replay must fill the gap.
// - DeliveryLedger: per tracked event (a message or presence update carrying a
//   nonce) and guild, which member sessions received it and how often. A
//   session is expected to receive an event when it wanted that kind (intents)
//   and had its GUILD_CREATE for the guild before the event was sent; an event
//   sent before the session even identified must not arrive at all.
//   After a node is lost, a session that had to IDENTIFY again (or saw its
//   guild go unavailable) reads the channel history over REST, as a real
//   client does; an event found there that the gateway never brought counts
//   as delivered "via history". An event the gateway brought twice is a
//   duplicate; one both the gateway and history brought is not (a client
//   merges the two by message id).

/** Holes larger than this are counted, not listed, so a wild seq cannot eat memory. */
const MAX_TRACKED_HOLES = 10_000;

export interface SeqCounts {
  /** Dispatches seen (including duplicates). */
  seen: number;
  /** Seqs never seen below the highest one seen. */
  gaps: number;
  duplicated: number;
  outOfOrder: number;
  highest: number;
}

export class SeqTracker {
  private highest = 0;
  private readonly holes = new Set<number>();
  private untrackedHoles = 0;
  seen = 0;
  duplicated = 0;
  outOfOrder = 0;

  /** The last seq in order, for HEARTBEAT and RESUME. */
  get last(): number {
    return this.highest;
  }

  /** Records one dispatch seq; returns what it was. */
  observe(seq: number): 'next' | 'gap' | 'late' | 'duplicate' {
    this.seen++;
    if (seq === this.highest + 1) {
      this.highest = seq;
      return 'next';
    }
    if (seq > this.highest) {
      const missing = seq - this.highest - 1;
      if (this.holes.size + missing <= MAX_TRACKED_HOLES) for (let s = this.highest + 1; s < seq; s++) this.holes.add(s);
      else this.untrackedHoles += missing;
      this.highest = seq;
      return 'gap';
    }
    if (this.holes.delete(seq)) {
      this.outOfOrder++;
      return 'late';
    }
    this.duplicated++;
    return 'duplicate';
  }

  counts(): SeqCounts {
    return { seen: this.seen, gaps: this.holes.size + this.untrackedHoles, duplicated: this.duplicated, outOfOrder: this.outOfOrder, highest: this.highest };
  }
}

export type TrackedKind = 'message' | 'presence';

/** A tracked event as the sender announces it. */
export interface Registration {
  /** The nonce embedded in the event. */
  key: string;
  kind: TrackedKind;
  guildIds: readonly string[];
  /** Epoch ms (clock.now) just before the send. */
  sentAt: number;
}

/** What the ledger needs to know about a session. */
export interface LedgerSession {
  /** Whether the session's intents select this kind of event. */
  wants(kind: TrackedKind): boolean;
  /** When its GUILD_CREATE for `guildId` arrived (undefined: not yet). */
  joinedAt(guildId: string): number | undefined;
  /** When it sent IDENTIFY (undefined: not yet). */
  identifiedAt(): number | undefined;
  /** Whether the session can still receive (connected, or disconnected but resumable). */
  live(): boolean;
}

export interface DeliveryTally {
  /** (event, session) pairs that had to arrive. */
  expected: number;
  /** Of those, how many arrived at least once. */
  delivered: number;
  lost: number;
  /** Extra copies beyond the first, over every pair. */
  duplicated: number;
  /** Arrivals a session should never have seen (not a member, or sent before it identified, or unknown nonce). */
  unexpected: number;
  /** Arrivals of events that were neither clearly expected nor clearly excluded (joined while it was in flight). */
  optional: number;
  /** Tracked events registered. */
  events: number;
  /** Of `delivered`, the pairs that came only through REST history (catch-up after a lost session). */
  viaHistory: number;
  /** History reads of events the gateway had brought as well (merged by id, not duplicates). */
  historyOverlap: number;
}

export function emptyTally(): DeliveryTally {
  return { expected: 0, delivered: 0, lost: 0, duplicated: 0, unexpected: 0, optional: 0, events: 0, viaHistory: 0, historyOverlap: 0 };
}

interface Track {
  reg: Registration | undefined;
  /** False once the send failed: nothing is expected, receipts are tolerated. */
  ok: boolean;
  /** Per guild of the event: arrival counts per member position. */
  counts: Map<string, Uint8Array>;
  /** Per guild: 1 where the member found it in REST history. */
  history: Map<string, Uint8Array>;
  /** Per guild: 1 where the member had to receive it (decided at registration). */
  eligible: Map<string, Uint8Array>;
  /** Receipt times seen before the registration, to turn into latencies once sentAt is known. */
  early: number[] | undefined;
  /** When the sender learned the event exists (REST response); undefined when unknown. */
  doneAt: number | undefined;
}

/** Clock skew between threads is far below this; a join this close to a send is "in flight". */
const MARGIN_MS = 1;

export class DeliveryLedger {
  private readonly tracks = new Map<string, Track>();
  /** Member positions per guild: position -> session slot, and slot -> position. */
  private readonly members = new Map<string, { slots: number[]; pos: Map<number, number> }>();
  private outstandingCount = 0;
  unexpected = 0;

  /**
   * @param sessions the sessions of this thread, by slot
   * @param onLatency called with (kind, ms) for every first-or-repeat arrival with a known send time
   */
  constructor(
    private readonly sessions: readonly LedgerSession[],
    memberships: ReadonlyMap<string, readonly number[]>,
    private readonly onLatency: (kind: TrackedKind, ms: number) => void = () => {},
  ) {
    for (const [guildId, slots] of memberships) {
      this.members.set(guildId, { slots: [...slots], pos: new Map(slots.map((s, i) => [s, i])) });
    }
  }

  /** Eligible pairs not yet delivered: zero means everything due has arrived. */
  get outstanding(): number {
    return this.outstandingCount;
  }

  /** Announces (or re-announces, after a retried send) an event. */
  register(reg: Registration): void {
    const track = this.track(reg.key);
    if (track.reg) this.retract(track);
    track.reg = reg;
    track.ok = true;
    for (const guildId of reg.guildIds) {
      const m = this.members.get(guildId);
      if (!m) continue;
      const counts = this.countsOf(track, guildId, m.slots.length);
      const eligible = new Uint8Array(m.slots.length);
      for (let p = 0; p < m.slots.length; p++) {
        const s = this.sessions[m.slots[p]!]!;
        const joined = s.joinedAt(guildId);
        if (s.live() && s.wants(reg.kind) && joined !== undefined && joined < reg.sentAt - MARGIN_MS) {
          eligible[p] = 1;
          if (counts[p] === 0 && track.history.get(guildId)?.[p] !== 1) this.outstandingCount++;
        }
      }
      track.eligible.set(guildId, eligible);
    }
    if (track.early) {
      for (const at of track.early) this.onLatency(reg.kind, at - reg.sentAt);
      track.early = undefined;
    }
  }

  /** The sender's send succeeded at `at` (the REST response): later identifies must not see it. */
  complete(key: string, at: number): void {
    const track = this.tracks.get(key);
    if (track) track.doneAt = at;
  }

  /** The send failed: the event may or may not exist, so nothing is owed. */
  fail(key: string): void {
    const track = this.tracks.get(key);
    if (!track) return;
    this.retract(track);
    track.ok = false;
  }

  /** One arrival at session `slot`. */
  receive(slot: number, key: string, guildId: string, at: number): void {
    const m = this.members.get(guildId);
    const p = m?.pos.get(slot);
    if (m === undefined || p === undefined) {
      this.unexpected++;
      return;
    }
    const track = this.track(key);
    const counts = this.countsOf(track, guildId, m.slots.length);
    if (counts[p]! < 255) counts[p]!++;
    if (counts[p] === 1 && track.history.get(guildId)?.[p] !== 1 && track.eligible.get(guildId)?.[p] === 1) this.outstandingCount--;
    if (track.reg) this.onLatency(track.reg.kind, at - track.reg.sentAt);
    else (track.early ??= []).push(at);
  }

  /**
   * Session `slot` read event `key` in guild `guildId`'s channel history (REST). History holds
   * everything the channel has, so reads of events the session was not owed are ignored.
   */
  receiveHistory(slot: number, key: string, guildId: string): void {
    const m = this.members.get(guildId);
    const p = m?.pos.get(slot);
    const track = this.tracks.get(key);
    if (m === undefined || p === undefined || track === undefined) return;
    let history = track.history.get(guildId);
    if (!history) track.history.set(guildId, (history = new Uint8Array(m.slots.length)));
    if (history[p] === 1) return;
    history[p] = 1;
    if (this.countsOf(track, guildId, m.slots.length)[p] === 0 && track.eligible.get(guildId)?.[p] === 1) this.outstandingCount--;
  }

  /** A session is gone for good: what it still owed becomes lost now rather than awaited. */
  sessionEnded(slot: number): void {
    for (const track of this.tracks.values()) {
      for (const [guildId, eligible] of track.eligible) {
        const p = this.members.get(guildId)?.pos.get(slot);
        if (p !== undefined && eligible[p] === 1 && !this.got(track, guildId, p)) this.outstandingCount--;
      }
    }
  }

  tally(): DeliveryTally {
    const t: DeliveryTally = { ...emptyTally(), unexpected: this.unexpected };
    for (const track of this.tracks.values()) {
      const reg = track.reg;
      if (!reg) {
        // Arrivals of a nonce nobody announced.
        for (const counts of track.counts.values()) for (const c of counts) t.unexpected += c;
        continue;
      }
      t.events++;
      for (const [guildId, counts] of track.counts) {
        const m = this.members.get(guildId)!;
        const eligible = track.ok ? track.eligible.get(guildId) : undefined;
        const history = track.history.get(guildId);
        for (let p = 0; p < counts.length; p++) {
          const c = counts[p]!;
          const h = history?.[p] === 1;
          if (c > 1) t.duplicated += c - 1;
          if (h && c > 0) t.historyOverlap++;
          if (eligible?.[p] === 1) {
            t.expected++;
            if (c > 0) t.delivered++;
            else if (h) {
              t.delivered++;
              t.viaHistory++;
            } else t.lost++;
          } else if (c > 0) {
            const identified = this.sessions[m.slots[p]!]!.identifiedAt();
            // Created (and answered) before this session even said IDENTIFY: it cannot be in its stream.
            const before = track.doneAt !== undefined && identified !== undefined && identified > track.doneAt + MARGIN_MS;
            if (track.ok && (before || !reg.guildIds.includes(guildId))) t.unexpected += c;
            else t.optional++;
          }
        }
      }
    }
    return t;
  }

  private track(key: string): Track {
    let track = this.tracks.get(key);
    if (!track) this.tracks.set(key, (track = { reg: undefined, ok: true, counts: new Map(), history: new Map(), eligible: new Map(), early: undefined, doneAt: undefined }));
    return track;
  }

  private countsOf(track: Track, guildId: string, size: number): Uint8Array {
    let counts = track.counts.get(guildId);
    if (!counts) track.counts.set(guildId, (counts = new Uint8Array(size)));
    return counts;
  }

  /** Whether member `p` of `guildId` has event `track` by either road. */
  private got(track: Track, guildId: string, p: number): boolean {
    return (track.counts.get(guildId)?.[p] ?? 0) > 0 || track.history.get(guildId)?.[p] === 1;
  }

  /** Takes back what a registration made outstanding. */
  private retract(track: Track): void {
    for (const [guildId, eligible] of track.eligible) {
      for (let p = 0; p < eligible.length; p++) if (eligible[p] === 1 && !this.got(track, guildId, p)) this.outstandingCount--;
    }
    track.eligible.clear();
  }
}
