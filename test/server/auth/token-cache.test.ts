import { describe, expect, it } from 'vitest';
import { VerifiedTokens } from '../../../server/auth/token-cache.js';
import { issueToken } from '../../../server/auth/token.js';

const SECRET = 'a-secret-of-sixteen-chars';
const OTHER = 'another-secret-sixteen';

describe('VerifiedTokens', () => {
  it('answers the user of a genuine token, again from memory, and refuses forged or foreign ones without keeping them', () => {
    const tokens = new VerifiedTokens(() => SECRET);
    const token = issueToken(SECRET, '123456789012345678', 0);
    expect(tokens.verify(token)).toBe('123456789012345678');
    expect(tokens.verify(token)).toBe('123456789012345678');
    expect(tokens.size).toBe(1);
    const [id, time] = token.split('.');
    expect(tokens.verify(`${id}.${time}.${'A'.repeat(36)}`)).toBeUndefined();
    expect(tokens.verify(issueToken(OTHER, '123456789012345678', 0))).toBeUndefined();
    expect(tokens.verify('garbage')).toBeUndefined();
    expect(tokens.size).toBe(1);
  });

  it('forgets what it kept when the secret changes', () => {
    let secret = SECRET;
    const tokens = new VerifiedTokens(() => secret);
    const token = issueToken(SECRET, '42', 0);
    expect(tokens.verify(token)).toBe('42');
    secret = OTHER;
    expect(tokens.verify(token)).toBeUndefined();
    expect(tokens.verify(issueToken(OTHER, '42', 0))).toBe('42');
  });

  it('stays within its bound, dropping the oldest', () => {
    const tokens = new VerifiedTokens(() => SECRET, 2);
    const [a, b, c] = ['1', '2', '3'].map((u) => issueToken(SECRET, u, 0)) as [string, string, string];
    for (const t of [a, b, c]) tokens.verify(t);
    expect(tokens.size).toBe(2);
    // Still verified when asked again, from the HMAC.
    expect(tokens.verify(a)).toBe('1');
    expect(tokens.size).toBe(2);
    expect(() => new VerifiedTokens(() => SECRET, 0)).toThrow(RangeError);
  });

  it('reads Authorization headers as parseAuthorization does, a kept token behind `Bot ` included', () => {
    let secret = SECRET;
    const tokens = new VerifiedTokens(() => secret);
    const token = issueToken(SECRET, '123456789012345678', 0);
    for (const header of [`Bot ${token}`, `Bearer ${token}`, token, `  bot   ${token} `, `Bot ${token}`]) expect(tokens.verifyHeader(header)).toBe('123456789012345678');
    expect(tokens.size).toBe(1);
    for (const header of [undefined, '', 'Bot', `Bot ${token} x`, `Bot  ${token}x`, `Basic ${token}`, [`Bot ${token}`]]) expect(tokens.verifyHeader(header)).toBeUndefined();
    // The kept token is forgotten with the secret, also on the `Bot ` path.
    secret = OTHER;
    expect(tokens.verifyHeader(`Bot ${token}`)).toBeUndefined();
    expect(tokens.size).toBe(0);
  });
});
