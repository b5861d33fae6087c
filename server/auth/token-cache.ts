// Tokens already verified, by their exact text: a REST request of a known
// token costs a Map lookup instead of an HMAC (the HMAC and its parsing were
// about 7 % of the server's CPU per post). Safe because a token's verdict
// never changes while the process runs: tokens cannot be revoked one by one,
// and the secret only changes with a restart (auth/token.ts; should it change
// anyway, everything kept is forgotten). Only genuine tokens are kept, so
// garbage cannot fill it; bounded, oldest inserted first.
import { type TokenSecret, parseAuthorization, verifyToken } from './token.js';

export const DEFAULT_TOKEN_CACHE_SIZE = 20_000;

export class VerifiedTokens {
  private readonly users = new Map<string, string>();
  private keptFor: TokenSecret | undefined;

  constructor(
    private readonly secret: () => TokenSecret,
    private readonly max: number = DEFAULT_TOKEN_CACHE_SIZE,
  ) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError('max must be a positive integer');
  }

  /**
   * The user id of an Authorization header's genuine token (auth/token.ts parseAuthorization), or undefined.
   * `Bot <token>` of a token kept here is one lookup: a genuine token has no whitespace, so that header parses
   * to exactly it, and the parse (a trim and a regular expression) can be skipped. Never throws.
   */
  verifyHeader(header: string | readonly string[] | undefined): string | undefined {
    if (typeof header === 'string' && header.startsWith('Bot ')) {
      const known = this.kept().get(header.slice(4));
      if (known !== undefined) return known;
    }
    const token = parseAuthorization(header);
    return token === undefined ? undefined : this.verify(token);
  }

  /** The user id of a genuine token, or undefined. Never throws. */
  verify(token: string): string | undefined {
    const secret = this.secret();
    const known = this.kept().get(token);
    if (known !== undefined) return known;
    const userId = verifyToken(secret, token);
    if (userId === undefined) return undefined;
    if (this.users.size >= this.max) this.users.delete(this.users.keys().next().value as string);
    this.users.set(token, userId);
    return userId;
  }

  /** The kept tokens, forgotten first if the secret changed. */
  private kept(): Map<string, string> {
    const secret = this.secret();
    if (secret !== this.keptFor) {
      this.users.clear();
      this.keptFor = secret;
    }
    return this.users;
  }

  get size(): number {
    return this.users.size;
  }
}
