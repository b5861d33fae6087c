import { GatewayIntentBits, GatewayOpcodes } from 'discord-api-types/v10';
import { describe, expect, it } from 'vitest';
import {
  ALL_INTENTS,
  EVENT_INTENTS,
  GatewayOp,
  MAX_CLIENT_PAYLOAD_BYTES,
  PRIVILEGED_INTENTS,
  closeReason,
  decodeFrame,
  hasIntent,
  intentForEvent,
  privilegedIntents,
  shardOf,
  hasUnknownIntents,
  wantsEvent,
} from '../../../server/gateway/protocol.js';

const identify = (d: Record<string, unknown> = {}) =>
  JSON.stringify({
    op: 2,
    d: {
      token: 'abc.def.ghi',
      intents: GatewayIntentBits.Guilds | GatewayIntentBits.GuildMessages,
      properties: { os: 'linux', browser: 'test', device: 'test' },
      ...d,
    },
  });

function closeCodeOf(text: string | Uint8Array): number | undefined {
  const r = decodeFrame(text);
  return r.ok ? undefined : r.closeCode;
}

describe('opcodes', () => {
  it('match Discord’s v10 numbers', () => {
    expect(GatewayOp).toEqual({
      DISPATCH: GatewayOpcodes.Dispatch,
      HEARTBEAT: GatewayOpcodes.Heartbeat,
      IDENTIFY: GatewayOpcodes.Identify,
      PRESENCE_UPDATE: GatewayOpcodes.PresenceUpdate,
      VOICE_STATE_UPDATE: GatewayOpcodes.VoiceStateUpdate,
      RESUME: GatewayOpcodes.Resume,
      RECONNECT: GatewayOpcodes.Reconnect,
      REQUEST_GUILD_MEMBERS: GatewayOpcodes.RequestGuildMembers,
      INVALID_SESSION: GatewayOpcodes.InvalidSession,
      HELLO: GatewayOpcodes.Hello,
      HEARTBEAT_ACK: GatewayOpcodes.HeartbeatAck,
    });
  });
});

describe('intents', () => {
  it('privileged intents are GUILD_MEMBERS, GUILD_PRESENCES and MESSAGE_CONTENT', () => {
    expect(PRIVILEGED_INTENTS).toBe((1 << 1) | (1 << 8) | (1 << 15));
    expect(privilegedIntents(GatewayIntentBits.Guilds | GatewayIntentBits.MessageContent)).toBe(1 << 15);
    expect(privilegedIntents(GatewayIntentBits.Guilds)).toBe(0);
  });

  it('knows every defined bit and flags the rest', () => {
    expect(hasUnknownIntents(ALL_INTENTS)).toBe(false);
    expect(hasUnknownIntents(1 << 30)).toBe(true);
    // Bits past the 32nd are not cut off (2^32 + 513 is not 513).
    expect(hasUnknownIntents(2 ** 32 + 513)).toBe(true);
    expect(hasUnknownIntents(2 ** 40)).toBe(true);
    expect(hasIntent(ALL_INTENTS, GatewayIntentBits.GuildMessagePolls)).toBe(true);
  });

  it('maps dispatch events to the intent they need', () => {
    expect(intentForEvent('MESSAGE_CREATE')).toBe(1 << 9);
    expect(intentForEvent('MESSAGE_UPDATE')).toBe(1 << 9);
    expect(intentForEvent('MESSAGE_DELETE')).toBe(1 << 9);
    expect(intentForEvent('MESSAGE_REACTION_ADD')).toBe(1 << 10);
    expect(intentForEvent('MESSAGE_REACTION_REMOVE')).toBe(1 << 10);
    expect(intentForEvent('TYPING_START')).toBe(1 << 11);
    expect(intentForEvent('PRESENCE_UPDATE')).toBe(1 << 8);
    expect(intentForEvent('GUILD_MEMBER_ADD')).toBe(1 << 1);
    expect(intentForEvent('GUILD_MEMBER_REMOVE')).toBe(1 << 1);
    expect(intentForEvent('GUILD_CREATE')).toBe(1 << 0);
    expect(intentForEvent('GUILD_DELETE')).toBe(1 << 0);
    expect(intentForEvent('CHANNEL_CREATE')).toBe(1 << 0);
    expect(intentForEvent('READY')).toBeUndefined();
    expect(intentForEvent('toString')).toBeUndefined();
    for (const bit of Object.values(EVENT_INTENTS)) expect(hasUnknownIntents(bit)).toBe(false);
  });

  it('wantsEvent filters by intents and always passes unlisted events', () => {
    const intents = GatewayIntentBits.Guilds | GatewayIntentBits.GuildMessages;
    expect(wantsEvent(intents, 'MESSAGE_CREATE')).toBe(true);
    expect(wantsEvent(intents, 'TYPING_START')).toBe(false);
    expect(wantsEvent(0, 'GUILD_CREATE')).toBe(false);
    expect(wantsEvent(0, 'READY')).toBe(true);
    expect(wantsEvent(0, 'RESUMED')).toBe(true);
  });
});

describe('decodeFrame: valid payloads', () => {
  it('decodes IDENTIFY with defaults', () => {
    const r = decodeFrame(identify());
    expect(r.ok).toBe(true);
    if (r.ok && r.frame.op === GatewayOp.IDENTIFY) {
      expect(r.frame.d.token).toBe('abc.def.ghi');
      expect(r.frame.d.large_threshold).toBe(50);
      expect(r.frame.d.shard).toBeUndefined();
    } else {
      expect.fail('expected IDENTIFY');
    }
  });

  it('decodes the IDENTIFY @discordjs/ws sends', () => {
    const r = decodeFrame(
      identify({
        compress: false,
        shard: [0, 1],
        large_threshold: 250,
        presence: { since: null, activities: [{ name: 'x', type: 0 }], status: 'online', afk: false },
      }),
    );
    expect(r.ok).toBe(true);
  });

  it('decodes HEARTBEAT with a sequence or null', () => {
    expect(decodeFrame('{"op":1,"d":null}')).toEqual({ ok: true, frame: { op: 1, d: null } });
    expect(decodeFrame('{"op":1,"d":42,"s":null,"t":null}')).toEqual({ ok: true, frame: { op: 1, d: 42 } });
  });

  it('decodes RESUME', () => {
    const r = decodeFrame(JSON.stringify({ op: 6, d: { token: 't', session_id: 's', seq: 7 } }));
    expect(r).toEqual({ ok: true, frame: { op: 6, d: { token: 't', session_id: 's', seq: 7 } } });
  });

  it('decodes PRESENCE_UPDATE for each status', () => {
    for (const status of ['online', 'dnd', 'idle', 'invisible', 'offline']) {
      const r = decodeFrame(JSON.stringify({ op: 3, d: { since: 91879201, activities: [], status, afk: false } }));
      expect(r.ok).toBe(true);
    }
  });

  it('decodes VOICE_STATE_UPDATE and REQUEST_GUILD_MEMBERS', () => {
    const g = '175928847299117063';
    expect(decodeFrame(JSON.stringify({ op: 4, d: { guild_id: g, channel_id: null, self_mute: false, self_deaf: false } })).ok).toBe(true);
    const r = decodeFrame(JSON.stringify({ op: 8, d: { guild_id: g, query: '', limit: 0 } }));
    expect(r.ok).toBe(true);
    expect(closeCodeOf(JSON.stringify({ op: 8, d: { guild_id: g, limit: 0 } }))).toBe(4002);
  });

  it('accepts bytes as well as text', () => {
    expect(decodeFrame(new TextEncoder().encode('{"op":1,"d":null}')).ok).toBe(true);
    expect(decodeFrame(Buffer.from('{"op":1,"d":3}'))).toEqual({ ok: true, frame: { op: 1, d: 3 } });
  });
});

describe('decodeFrame: close codes', () => {
  it('4002 for payloads over 4096 bytes, counting bytes not characters', () => {
    const pad = (n: number) => JSON.stringify({ op: 1, d: null, t: 'x'.repeat(n) });
    const base = pad(0).length;
    expect(decodeFrame(pad(MAX_CLIENT_PAYLOAD_BYTES - base)).ok).toBe(true);
    expect(closeCodeOf(pad(MAX_CLIENT_PAYLOAD_BYTES - base + 1))).toBe(4002);
    // 2000 three-byte characters: 2000 UTF-16 units, 6000 bytes.
    expect(closeCodeOf(JSON.stringify({ op: 1, d: null, t: '€'.repeat(2000) }))).toBe(4002);
  });

  it.each(['', 'not json', '{"op":1', '[1,2]', 'null', '42', '{"d":null}', '{"op":"1","d":null}', '{"op":1.5,"d":null}'])('4002 for %j', (text) => {
    expect(closeCodeOf(text)).toBe(4002);
  });

  it('4002 for bytes that are not UTF-8', () => {
    const valid = Buffer.from('{"op":1,"d":null}');
    expect(decodeFrame(valid).ok).toBe(true);
    // A lone continuation byte inside a JSON string, and a truncated 3-byte sequence.
    expect(closeCodeOf(Buffer.concat([Buffer.from('{"op":1,"d":null,"t":"'), Buffer.from([0x80]), Buffer.from('"}')]))).toBe(4002);
    expect(closeCodeOf(Buffer.concat([Buffer.from('{"op":1,"d":null,"t":"'), Buffer.from([0xe2, 0x82]), Buffer.from('"}')]))).toBe(4002);
  });

  it.each([0, 5, 7, 9, 10, 11, 12, 99, -1])('4001 for op %i a client may not send', (op) => {
    expect(closeCodeOf(JSON.stringify({ op, d: null }))).toBe(4001);
  });

  it('4002 for malformed data of known ops', () => {
    expect(closeCodeOf('{"op":1,"d":"x"}')).toBe(4002);
    expect(closeCodeOf('{"op":1}')).toBe(4002);
    expect(closeCodeOf('{"op":1,"d":-1}')).toBe(4002);
    expect(closeCodeOf(identify({ token: '' }))).toBe(4002);
    expect(closeCodeOf(identify({ properties: { os: 'x' } }))).toBe(4002);
    expect(closeCodeOf(identify({ large_threshold: 49 }))).toBe(4002);
    expect(closeCodeOf(identify({ large_threshold: 251 }))).toBe(4002);
    expect(closeCodeOf(identify({ presence: { status: 'sleeping', since: null, activities: [], afk: false } }))).toBe(4002);
    expect(closeCodeOf(JSON.stringify({ op: 6, d: { token: 't', session_id: 's' } }))).toBe(4002);
    expect(closeCodeOf(JSON.stringify({ op: 6, d: { token: 't', session_id: '', seq: 1 } }))).toBe(4002);
    expect(closeCodeOf(JSON.stringify({ op: 3, d: { since: null, activities: [], status: 'online' } }))).toBe(4002);
  });

  it('4013 for invalid intents', () => {
    expect(closeCodeOf(identify({ intents: -1 }))).toBe(4013);
    expect(closeCodeOf(identify({ intents: 1.5 }))).toBe(4013);
    expect(closeCodeOf(identify({ intents: '513' }))).toBe(4013);
    expect(closeCodeOf(identify({ intents: 1 << 30 }))).toBe(4013);
    expect(closeCodeOf(identify({ intents: 2 ** 31 }))).toBe(4013);
    expect(closeCodeOf(identify({ intents: 2 ** 32 + 513 }))).toBe(4013);
    expect(closeCodeOf(identify({ intents: 2 ** 40 }))).toBe(4013);
    expect(closeCodeOf(identify({ intents: undefined }))).toBe(4013);
    // Intents problems win over other problems in the same payload.
    expect(closeCodeOf(identify({ intents: -1, token: '' }))).toBe(4013);
  });

  it('4010 for an invalid shard pair', () => {
    expect(closeCodeOf(identify({ shard: [1, 1] }))).toBe(4010);
    expect(closeCodeOf(identify({ shard: [0, 0] }))).toBe(4010);
    expect(closeCodeOf(identify({ shard: [-1, 2] }))).toBe(4010);
    expect(closeCodeOf(identify({ shard: [0] }))).toBe(4010);
    expect(decodeFrame(identify({ shard: [1, 2] })).ok).toBe(true);
  });

  it('gives reasons that fit a close frame', () => {
    const r = decodeFrame(identify({ properties: { os: 'x' } }));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(Buffer.byteLength(r.reason)).toBeLessThanOrEqual(123);
  });
});

describe('closeReason', () => {
  it('truncates to 123 bytes on a character boundary', () => {
    const reason = closeReason(4002, '€'.repeat(100));
    expect(Buffer.byteLength(reason)).toBeLessThanOrEqual(123);
    expect(reason).not.toContain('\uFFFD');
    expect(reason.startsWith('Decode error.')).toBe(true);
  });

  it('returns the plain reason without detail', () => {
    expect(closeReason(4001)).toBe('Unknown opcode.');
  });
});

describe('shardOf', () => {
  it('applies (guild_id >> 22) % num_shards', () => {
    const id = '175928847299117063';
    expect(shardOf(id, 1)).toBe(0);
    expect(shardOf(id, 16)).toBe(Number((BigInt(id) >> 22n) % 16n));
    // (1 << 22) * 5 is shard 5 of 16 and shard 1 of 2.
    const five = (5n << 22n).toString();
    expect(shardOf(five, 16)).toBe(5);
    expect(shardOf(five, 2)).toBe(1);
  });

  it('handles ids past 2^53', () => {
    expect(shardOf('18446744073709551615', 1000)).toBe(Number((((1n << 64n) - 1n) >> 22n) % 1000n));
  });

  it('rejects a non-positive shard count', () => {
    expect(() => shardOf('1', 0)).toThrow(RangeError);
    expect(() => shardOf('1', 1.5)).toThrow(RangeError);
  });
});
