import { describe, expect, it } from 'vitest';
import { issueToken, parseAuthorization, verifyToken, verifyTokenClaims } from '../../../server/auth/token.js';

const SECRET = 'a-test-secret-of-some-length';
const USER = '175928847299117063';
const NOW = Date.UTC(2025, 5, 1, 12, 0, 0, 500);

describe('issueToken / verifyToken', () => {
  it('round-trips the user id and issue time', () => {
    const token = issueToken(SECRET, USER, NOW);
    expect(verifyToken(SECRET, token)).toBe(USER);
    expect(verifyTokenClaims(SECRET, token)).toEqual({ userId: USER, issuedAt: Math.floor(NOW / 1000) });
  });

  it('has the Discord-like three-part base64url shape with a 27-byte MAC', () => {
    const token = issueToken(SECRET, USER, NOW);
    const parts = token.split('.');
    expect(parts).toHaveLength(3);
    for (const p of parts) expect(p).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(Buffer.from(parts[0]!, 'base64url').toString()).toBe(USER);
    expect(Buffer.from(parts[1]!, 'base64url').toString()).toBe(String(Math.floor(NOW / 1000)));
    expect(Buffer.from(parts[2]!, 'base64url')).toHaveLength(27);
  });

  it('is deterministic for the same inputs and differs per user', () => {
    expect(issueToken(SECRET, USER, NOW)).toBe(issueToken(SECRET, USER, NOW));
    expect(issueToken(SECRET, USER, NOW)).not.toBe(issueToken(SECRET, '175928847299117064', NOW));
  });

  it('accepts a Buffer secret', () => {
    const secret = Buffer.from('0123456789abcdef0123456789abcdef');
    expect(verifyToken(secret, issueToken(secret, USER, NOW))).toBe(USER);
  });

  it('rejects a token made with another secret', () => {
    expect(verifyToken('another-secret-entirely', issueToken(SECRET, USER, NOW))).toBeUndefined();
  });

  it('rejects a token whose user id was swapped', () => {
    const [, time, mac] = issueToken(SECRET, USER, NOW).split('.');
    const forged = `${Buffer.from('175928847299117064').toString('base64url')}.${time}.${mac}`;
    expect(verifyToken(SECRET, forged)).toBeUndefined();
  });

  it('rejects a token whose timestamp was changed', () => {
    const [id, , mac] = issueToken(SECRET, USER, NOW).split('.');
    expect(verifyToken(SECRET, `${id}.${Buffer.from('1').toString('base64url')}.${mac}`)).toBeUndefined();
  });

  it('rejects every single-character change of the MAC', () => {
    const token = issueToken(SECRET, USER, NOW);
    const macStart = token.lastIndexOf('.') + 1;
    for (let i = macStart; i < token.length; i++) {
      const c = token[i] === 'A' ? 'B' : 'A';
      expect(verifyToken(SECRET, token.slice(0, i) + c + token.slice(i + 1))).toBeUndefined();
    }
  });

  it('rejects truncated or extended MACs', () => {
    const token = issueToken(SECRET, USER, NOW);
    expect(verifyToken(SECRET, token.slice(0, -1))).toBeUndefined();
    expect(verifyToken(SECRET, token + 'A')).toBeUndefined();
    expect(verifyToken(SECRET, token + 'AAAA')).toBeUndefined();
  });

  it('never throws on garbage', () => {
    const garbage: unknown[] = [
      undefined,
      null,
      42,
      {},
      '',
      '.',
      '..',
      '...',
      'a.b.c',
      'a.b',
      'a.b.c.d',
      '!!!.@@@.###',
      'x'.repeat(10_000),
      `${'A'.repeat(10)}.${'B'.repeat(10)}.${'C'.repeat(36)}`,
      'Bot abc',
      '\u0000.\u0000.\u0000',
    ];
    for (const g of garbage) expect(verifyToken(SECRET, g)).toBeUndefined();
  });

  it('returns undefined rather than throwing for an empty secret', () => {
    expect(verifyToken('', issueToken(SECRET, USER, NOW))).toBeUndefined();
  });

  it('refuses to issue with an empty secret or a non-snowflake user id', () => {
    expect(() => issueToken('', USER)).toThrow(TypeError);
    expect(() => issueToken(SECRET, 'alice')).toThrow(TypeError);
    expect(() => issueToken(SECRET, '01')).toThrow(TypeError);
  });

  it('uses the real clock by default', () => {
    const claims = verifyTokenClaims(SECRET, issueToken(SECRET, USER));
    expect(Math.abs(claims!.issuedAt - Date.now() / 1000)).toBeLessThan(5);
  });
});

describe('parseAuthorization', () => {
  it('accepts Bot, Bearer and bare tokens', () => {
    expect(parseAuthorization('Bot abc.def.ghi')).toBe('abc.def.ghi');
    expect(parseAuthorization('Bearer abc.def.ghi')).toBe('abc.def.ghi');
    expect(parseAuthorization('abc.def.ghi')).toBe('abc.def.ghi');
  });

  it('is case-insensitive about the scheme and tolerant of surrounding space', () => {
    expect(parseAuthorization('bot abc')).toBe('abc');
    expect(parseAuthorization('BEARER   abc')).toBe('abc');
    expect(parseAuthorization('  abc  ')).toBe('abc');
  });

  it('returns undefined for missing or malformed headers', () => {
    expect(parseAuthorization(undefined)).toBeUndefined();
    expect(parseAuthorization('')).toBeUndefined();
    expect(parseAuthorization('   ')).toBeUndefined();
    expect(parseAuthorization('Basic dXNlcjpwYXNz')).toBeUndefined();
    expect(parseAuthorization('Bot a b')).toBeUndefined();
    expect(parseAuthorization(['Bot abc'])).toBeUndefined();
  });

  it('feeds verifyToken end to end', () => {
    const token = issueToken(SECRET, USER, NOW);
    expect(verifyToken(SECRET, parseAuthorization(`Bot ${token}`))).toBe(USER);
  });
});
