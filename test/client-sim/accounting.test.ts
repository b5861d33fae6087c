// Accounting fed synthetic sequences: seq gaps, repeats and late arrivals;
// deliveries lost, duplicated, unexpected, and in flight while a session joined.
import { describe, expect, it } from 'vitest';
import { DeliveryLedger, type LedgerSession, SeqTracker, type TrackedKind } from '../../client-sim/accounting.js';
import { HistogramSet, LatencyHistogram } from '../../client-sim/histograms.js';

describe('SeqTracker', () => {
  it('counts an unbroken run as clean', () => {
    const t = new SeqTracker();
    for (let s = 1; s <= 100; s++) expect(t.observe(s)).toBe('next');
    expect(t.counts()).toEqual({ seen: 100, gaps: 0, duplicated: 0, outOfOrder: 0, highest: 100 });
    expect(t.last).toBe(100);
  });

  it('reports a gap as lost seqs', () => {
    const t = new SeqTracker();
    for (const s of [1, 2, 3, 7, 8]) t.observe(s);
    expect(t.counts()).toMatchObject({ gaps: 3, duplicated: 0, outOfOrder: 0, highest: 8 });
  });

  it('reports a repeat as a duplicate', () => {
    const t = new SeqTracker();
    for (const s of [1, 2, 2, 3, 1]) t.observe(s);
    expect(t.counts()).toMatchObject({ gaps: 0, duplicated: 2, outOfOrder: 0 });
  });

  it('reports a reorder as out of order, and the hole it filled is no longer a gap', () => {
    const t = new SeqTracker();
    expect([1, 3, 2, 4].map((s) => t.observe(s))).toEqual(['next', 'gap', 'late', 'next']);
    expect(t.counts()).toMatchObject({ gaps: 0, duplicated: 0, outOfOrder: 1, highest: 4 });
    // The same seq a second time is a duplicate, not out of order again.
    t.observe(2);
    expect(t.counts()).toMatchObject({ duplicated: 1, outOfOrder: 1 });
  });

  it('keeps counting a huge jump without tracking every hole', () => {
    const t = new SeqTracker();
    t.observe(1);
    t.observe(1_000_000);
    expect(t.counts().gaps).toBe(999_998);
  });
});

class FakeSession implements LedgerSession {
  joined = new Map<string, number>();
  alive = true;
  constructor(
    readonly kinds: TrackedKind[] = ['message', 'presence'],
    readonly identified: number | undefined = 0,
  ) {}
  wants(kind: TrackedKind) {
    return this.kinds.includes(kind);
  }
  joinedAt(guildId: string) {
    return this.joined.get(guildId);
  }
  identifiedAt() {
    return this.identified;
  }
  live() {
    return this.alive;
  }
}

function ledgerOf(sessions: FakeSession[], memberships: Record<string, number[]>) {
  const latencies: number[] = [];
  const ledger = new DeliveryLedger(sessions, new Map(Object.entries(memberships)), (_kind, ms) => latencies.push(ms));
  return { ledger, latencies };
}

describe('DeliveryLedger', () => {
  it('counts each due delivery once, with its latency, and nothing outstanding once all arrived', () => {
    const s = [new FakeSession(), new FakeSession()];
    s.forEach((x) => x.joined.set('g', 10));
    const { ledger, latencies } = ledgerOf(s, { g: [0, 1] });
    ledger.register({ key: 'm1', kind: 'message', guildIds: ['g'], sentAt: 100 });
    expect(ledger.outstanding).toBe(2);
    ledger.receive(0, 'm1', 'g', 105);
    ledger.receive(1, 'm1', 'g', 110);
    expect(ledger.outstanding).toBe(0);
    expect(latencies).toEqual([5, 10]);
    expect(ledger.tally()).toMatchObject({ expected: 2, delivered: 2, lost: 0, duplicated: 0, unexpected: 0, events: 1 });
  });

  it('reports a missing delivery as lost and a second copy as duplicated', () => {
    const s = [new FakeSession(), new FakeSession()];
    s.forEach((x) => x.joined.set('g', 10));
    const { ledger } = ledgerOf(s, { g: [0, 1] });
    ledger.register({ key: 'm1', kind: 'message', guildIds: ['g'], sentAt: 100 });
    ledger.receive(0, 'm1', 'g', 105);
    ledger.receive(0, 'm1', 'g', 106);
    expect(ledger.outstanding).toBe(1);
    expect(ledger.tally()).toMatchObject({ expected: 2, delivered: 1, lost: 1, duplicated: 1 });
  });

  it('matches an arrival that beats its registration (receipt before the REST call returned)', () => {
    const s = [new FakeSession()];
    s[0]!.joined.set('g', 10);
    const { ledger, latencies } = ledgerOf(s, { g: [0] });
    ledger.receive(0, 'm1', 'g', 130);
    ledger.register({ key: 'm1', kind: 'message', guildIds: ['g'], sentAt: 100 });
    expect(ledger.outstanding).toBe(0);
    expect(latencies).toEqual([30]);
    expect(ledger.tally()).toMatchObject({ expected: 1, delivered: 1, lost: 0 });
  });

  it('does not expect what a session joined too late for, or does not want; tolerates it arriving while in flight', () => {
    const late = new FakeSession();
    late.joined.set('g', 200);
    const noMessages = new FakeSession(['presence']);
    noMessages.joined.set('g', 10);
    const { ledger } = ledgerOf([late, noMessages], { g: [0, 1] });
    ledger.register({ key: 'm1', kind: 'message', guildIds: ['g'], sentAt: 150 });
    expect(ledger.outstanding).toBe(0);
    ledger.receive(0, 'm1', 'g', 210);
    expect(ledger.tally()).toMatchObject({ expected: 0, lost: 0, unexpected: 0, optional: 1 });
  });

  it('flags arrivals that cannot be right: not a member, wrong guild, unknown nonce, created before IDENTIFY', () => {
    const a = new FakeSession(['message'], 0);
    a.joined.set('g', 10);
    a.joined.set('h', 10);
    const afterwards = new FakeSession(['message'], 500);
    afterwards.joined.set('g', 510);
    const { ledger } = ledgerOf([a, afterwards], { g: [0, 1], h: [0] });
    ledger.register({ key: 'm1', kind: 'message', guildIds: ['g'], sentAt: 100 });
    ledger.complete('m1', 120);
    ledger.receive(0, 'm1', 'g', 130);
    ledger.receive(1, 'm1', 'x', 140); // not a member of x
    ledger.receive(0, 'm1', 'h', 140); // a member of h, but m1 went to g
    ledger.receive(0, 'nobody-sent-this', 'g', 150);
    ledger.receive(1, 'm1', 'g', 520); // created and answered before it identified at 500
    expect(ledger.tally()).toMatchObject({ expected: 1, delivered: 1, unexpected: 4 });
  });

  it('a failed send owes nothing; a retried send is re-announced without double counting', () => {
    const s = [new FakeSession()];
    s[0]!.joined.set('g', 10);
    const { ledger } = ledgerOf(s, { g: [0] });
    ledger.register({ key: 'm1', kind: 'message', guildIds: ['g'], sentAt: 100 });
    ledger.register({ key: 'm1', kind: 'message', guildIds: ['g'], sentAt: 300 });
    expect(ledger.outstanding).toBe(1);
    ledger.register({ key: 'm2', kind: 'message', guildIds: ['g'], sentAt: 300 });
    ledger.fail('m2');
    expect(ledger.outstanding).toBe(1);
    ledger.receive(0, 'm1', 'g', 310);
    expect(ledger.tally()).toMatchObject({ expected: 1, delivered: 1, lost: 0, events: 2 });
  });

  it('a presence update to two guilds is due once per guild; an ended session stops being awaited', () => {
    const s = [new FakeSession(), new FakeSession()];
    s.forEach((x) => (x.joined.set('g', 1), x.joined.set('h', 1)));
    const { ledger } = ledgerOf(s, { g: [0, 1], h: [0, 1] });
    ledger.register({ key: 'p1', kind: 'presence', guildIds: ['g', 'h'], sentAt: 10 });
    expect(ledger.outstanding).toBe(4);
    ledger.receive(0, 'p1', 'g', 11);
    ledger.receive(0, 'p1', 'h', 11);
    ledger.sessionEnded(1);
    expect(ledger.outstanding).toBe(0);
    expect(ledger.tally()).toMatchObject({ expected: 4, delivered: 2, lost: 2 });
  });
});

describe('histograms', () => {
  it('survive encoding and merge exactly', () => {
    const a = new HistogramSet();
    const b = new HistogramSet();
    for (let i = 1; i <= 1000; i++) (i % 2 ? a : b).record('fanout', i / 10);
    b.record('ready', 5);
    const merged = new HistogramSet();
    merged.merge(HistogramSet.decode(a.encode()));
    merged.merge(HistogramSet.decode(b.encode()));
    const f = merged.summaries().fanout!;
    expect(f.count).toBe(1000);
    expect(f.p50).toBeCloseTo(50, 0);
    expect(f.max).toBeCloseTo(100, 0);
    expect(merged.summaries().ready!.count).toBe(1);
    expect(new LatencyHistogram().summary().count).toBe(0);
  });
});

describe('DeliveryLedger after a lost session (node-kill)', () => {
  it('counts an event found only in history as delivered via history, not lost; outstanding drops once', () => {
    const s = [new FakeSession(), new FakeSession()];
    s.forEach((x) => x.joined.set('g', 10));
    const { ledger } = ledgerOf(s, { g: [0, 1] });
    ledger.register({ key: 'm1', kind: 'message', guildIds: ['g'], sentAt: 100 });
    ledger.receive(0, 'm1', 'g', 105);
    expect(ledger.outstanding).toBe(1);
    // Session 1 lost its gateway session, identified again and read the channel history.
    ledger.receiveHistory(1, 'm1', 'g');
    expect(ledger.outstanding).toBe(0);
    ledger.receiveHistory(1, 'm1', 'g');
    expect(ledger.outstanding).toBe(0);
    expect(ledger.tally()).toMatchObject({ expected: 2, delivered: 2, lost: 0, duplicated: 0, viaHistory: 1, historyOverlap: 0 });
  });

  it('history and the gateway both bringing an event is an overlap (merged by id), not a duplicate; the gateway twice is', () => {
    const s = [new FakeSession(), new FakeSession()];
    s.forEach((x) => x.joined.set('g', 10));
    const { ledger } = ledgerOf(s, { g: [0, 1] });
    ledger.register({ key: 'm1', kind: 'message', guildIds: ['g'], sentAt: 100 });
    ledger.receiveHistory(0, 'm1', 'g');
    ledger.receive(0, 'm1', 'g', 140);
    expect(ledger.outstanding).toBe(1);
    ledger.receive(1, 'm1', 'g', 105);
    ledger.receive(1, 'm1', 'g', 150);
    expect(ledger.outstanding).toBe(0);
    expect(ledger.tally()).toMatchObject({ expected: 2, delivered: 2, lost: 0, viaHistory: 0, historyOverlap: 1, duplicated: 1 });
  });

  it('what neither road brought is lost; history reads of events not owed (before joining, not a member, unknown) are ignored', () => {
    const member = new FakeSession();
    member.joined.set('g', 10);
    const late = new FakeSession();
    late.joined.set('g', 500);
    const { ledger } = ledgerOf([member, late], { g: [0, 1] });
    ledger.register({ key: 'old', kind: 'message', guildIds: ['g'], sentAt: 100 });
    ledger.register({ key: 'gone', kind: 'message', guildIds: ['g'], sentAt: 120 });
    ledger.receive(0, 'old', 'g', 110);
    ledger.receiveHistory(1, 'old', 'g'); // sent before session 1 joined: history has it, nothing was owed
    ledger.receiveHistory(0, 'never-sent', 'g');
    ledger.receiveHistory(0, 'old', 'other-guild');
    expect(ledger.outstanding).toBe(1);
    expect(ledger.tally()).toMatchObject({ expected: 2, delivered: 1, lost: 1, viaHistory: 0, unexpected: 0, optional: 0 });
  });

  it('a send that failed owes nothing even when history shows it (the write may have committed)', () => {
    const s = [new FakeSession()];
    s[0]!.joined.set('g', 10);
    const { ledger } = ledgerOf(s, { g: [0] });
    ledger.register({ key: 'm1', kind: 'message', guildIds: ['g'], sentAt: 100 });
    ledger.fail('m1');
    ledger.receiveHistory(0, 'm1', 'g');
    expect(ledger.outstanding).toBe(0);
    expect(ledger.tally()).toMatchObject({ expected: 0, lost: 0, viaHistory: 0, unexpected: 0 });
  });

  it('a re-registration (retried send) after a history read does not make the pair outstanding again', () => {
    const s = [new FakeSession()];
    s[0]!.joined.set('g', 10);
    const { ledger } = ledgerOf(s, { g: [0] });
    ledger.register({ key: 'm1', kind: 'message', guildIds: ['g'], sentAt: 100 });
    ledger.receiveHistory(0, 'm1', 'g');
    ledger.register({ key: 'm1', kind: 'message', guildIds: ['g'], sentAt: 120 });
    expect(ledger.outstanding).toBe(0);
    expect(ledger.tally()).toMatchObject({ expected: 1, delivered: 1, viaHistory: 1 });
  });
});
