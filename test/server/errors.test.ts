import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  GatewayCloseCode,
  GatewayCloseReason,
  HttpError,
  RestErrors,
  canReconnect,
  canResume,
  formErrorsFromZod,
  httpError,
  invalidFormBody,
  isGatewayCloseCode,
  isHttpError,
  rateLimited,
} from '../../server/errors.js';

describe('REST error catalog', () => {
  it('uses Discord JSON codes with their HTTP statuses', () => {
    const expected: Record<string, [number, number]> = {
      GENERAL: [0, 400],
      NOT_FOUND: [0, 404],
      METHOD_NOT_ALLOWED: [0, 405],
      RATE_LIMITED: [0, 429],
      INTERNAL: [0, 500],
      UNKNOWN_CHANNEL: [10003, 404],
      UNKNOWN_GUILD: [10004, 404],
      UNKNOWN_MEMBER: [10007, 404],
      UNKNOWN_MESSAGE: [10008, 404],
      UNKNOWN_USER: [10013, 404],
      UNKNOWN_EMOJI: [10014, 400],
      MAX_REACTIONS: [30010, 400],
      UNAUTHORIZED: [40001, 401],
      REQUEST_TOO_LARGE: [40005, 413],
      MISSING_ACCESS: [50001, 403],
      CANNOT_EDIT_OTHERS_MESSAGE: [50005, 403],
      EMPTY_MESSAGE: [50006, 400],
      MISSING_PERMISSIONS: [50013, 403],
      INVALID_FORM_BODY: [50035, 400],
      INVALID_JSON: [50109, 400],
    };
    for (const [name, [code, status]] of Object.entries(expected)) {
      const entry = RestErrors[name as keyof typeof RestErrors];
      expect({ name, code: entry.code, status: entry.status }).toEqual({ name, code, status });
      expect(entry.message.length).toBeGreaterThan(0);
    }
  });

  it('has unique non-zero codes', () => {
    const codes = Object.values(RestErrors)
      .map((e) => e.code)
      .filter((c) => c !== 0);
    expect(new Set(codes).size).toBe(codes.length);
  });
});

describe('HttpError', () => {
  it('carries status, code and renders Discord’s body', () => {
    const err = httpError('UNKNOWN_GUILD');
    expect(err).toBeInstanceOf(HttpError);
    expect(err).toBeInstanceOf(Error);
    expect(err.status).toBe(404);
    expect(err.code).toBe(10004);
    expect(err.toBody()).toEqual({ code: 10004, message: RestErrors.UNKNOWN_GUILD.message });
  });

  it('allows a custom message but keeps the code', () => {
    const err = new HttpError(RestErrors.MISSING_PERMISSIONS, { message: 'nope' });
    expect(err.toBody()).toEqual({ code: 50013, message: 'nope' });
  });

  it('keeps the cause', () => {
    const cause = new Error('root');
    expect(httpError('INTERNAL', { cause }).cause).toBe(cause);
  });

  it('renders 429 with retry_after and global', () => {
    const err = rateLimited(1.5);
    expect(err.status).toBe(429);
    expect(err.toBody()).toMatchObject({ code: 0, retry_after: 1.5, global: false });
    expect(rateLimited(2, true).toBody().global).toBe(true);
  });

  it('isHttpError matches by catalog entry', () => {
    const err = httpError('UNKNOWN_MESSAGE');
    expect(isHttpError(err)).toBe(true);
    expect(isHttpError(err, RestErrors.UNKNOWN_MESSAGE)).toBe(true);
    expect(isHttpError(err, RestErrors.UNKNOWN_CHANNEL)).toBe(false);
    expect(isHttpError(new Error('x'))).toBe(false);
    // NOT_FOUND and GENERAL share code 0 but not the status.
    expect(isHttpError(httpError('NOT_FOUND'), RestErrors.GENERAL)).toBe(false);
  });
});

describe('50035 Invalid Form Body from zod', () => {
  const schema = z.object({
    content: z.string().min(1).max(5),
    count: z.number().int().min(1).max(3),
    kind: z.enum(['a', 'b']),
    name: z.string().regex(/^[a-z]+$/),
    tags: z.array(z.object({ label: z.string() })),
    nested: z.object({ flag: z.boolean() }),
  });

  function errorsFor(input: unknown) {
    const result = schema.safeParse(input);
    expect(result.success).toBe(false);
    return formErrorsFromZod(result.error!, input);
  }

  it('marks missing fields BASE_TYPE_REQUIRED', () => {
    const errors = errorsFor({});
    expect(errors.content).toEqual({ _errors: [{ code: 'BASE_TYPE_REQUIRED', message: expect.any(String) }] });
    expect(Object.keys(errors).sort()).toEqual(['content', 'count', 'kind', 'name', 'nested', 'tags']);
  });

  it('maps each kind of problem to a Discord code', () => {
    const errors = errorsFor({
      content: '',
      count: 9,
      kind: 'z',
      name: 'UPPER',
      tags: 'nope',
      nested: 5,
    });
    const code = (field: string) => (errors[field] as { _errors: { code: string }[] })._errors[0]!.code;
    expect(code('content')).toBe('BASE_TYPE_MIN_LENGTH');
    expect(code('count')).toBe('NUMBER_TYPE_MAX');
    expect(code('kind')).toBe('BASE_TYPE_CHOICES');
    expect(code('name')).toBe('STRING_TYPE_REGEX');
    expect(code('tags')).toBe('LIST_TYPE_CONVERT');
    expect(code('nested')).toBe('DICT_TYPE_CONVERT');
  });

  it('maps too long, too small and wrong-type numbers', () => {
    const errors = errorsFor({ content: 'toolong', count: 0, kind: 'a', name: 'ok', tags: [], nested: { flag: true } });
    expect(errors).toEqual({
      content: { _errors: [{ code: 'BASE_TYPE_MAX_LENGTH', message: expect.any(String) }] },
      count: { _errors: [{ code: 'NUMBER_TYPE_MIN', message: expect.any(String) }] },
    });
    const typed = errorsFor({ content: 'a', count: 'x', kind: 'a', name: 'ok', tags: [], nested: { flag: 1 } });
    expect((typed.count as { _errors: { code: string }[] })._errors[0]!.code).toBe('NUMBER_TYPE_COERCE');
    expect(typed.nested).toEqual({ flag: { _errors: [{ code: 'BASE_TYPE_BAD_TYPE', message: expect.any(String) }] } });
  });

  it('nests by path with array indices as keys', () => {
    const errors = errorsFor({ content: 'a', count: 1, kind: 'a', name: 'ok', tags: [{ label: 'x' }, {}], nested: { flag: true } });
    expect(errors).toEqual({ tags: { '1': { label: { _errors: [{ code: 'BASE_TYPE_REQUIRED', message: expect.any(String) }] } } } });
  });

  it('puts whole-body problems in the root _errors', () => {
    const input = 'not an object';
    const errors = formErrorsFromZod(schema.safeParse(input).error!, input);
    expect(errors._errors?.[0]?.code).toBe('DICT_TYPE_CONVERT');
  });

  it('collects several problems on one field', () => {
    const s = z.object({ a: z.string().min(3).regex(/^\d+$/) });
    const input = { a: 'x' };
    const errors = formErrorsFromZod(s.safeParse(input).error!, input);
    expect((errors.a as { _errors: unknown[] })._errors).toHaveLength(2);
  });

  it('invalidFormBody wraps it as a 400 / 50035', () => {
    const input = {};
    const err = invalidFormBody(schema.safeParse(input).error!, input);
    expect(err.status).toBe(400);
    expect(err.code).toBe(50035);
    const body = err.toBody();
    expect(body.code).toBe(50035);
    expect(body.errors?.content).toBeDefined();
    expect(JSON.parse(JSON.stringify(body))).toEqual(body);
  });
});

describe('gateway close codes', () => {
  it('has Discord’s numbers', () => {
    expect(GatewayCloseCode).toEqual({
      UNKNOWN_ERROR: 4000,
      UNKNOWN_OPCODE: 4001,
      DECODE_ERROR: 4002,
      NOT_AUTHENTICATED: 4003,
      AUTHENTICATION_FAILED: 4004,
      ALREADY_AUTHENTICATED: 4005,
      INVALID_SEQ: 4007,
      RATE_LIMITED: 4008,
      SESSION_TIMED_OUT: 4009,
      INVALID_SHARD: 4010,
      SHARDING_REQUIRED: 4011,
      INVALID_API_VERSION: 4012,
      INVALID_INTENTS: 4013,
      DISALLOWED_INTENTS: 4014,
    });
  });

  it('has a reason for every code, short enough for a close frame', () => {
    for (const code of Object.values(GatewayCloseCode)) {
      expect(Buffer.byteLength(GatewayCloseReason[code])).toBeLessThanOrEqual(123);
      expect(isGatewayCloseCode(code)).toBe(true);
    }
    expect(isGatewayCloseCode(4006)).toBe(false);
    expect(isGatewayCloseCode(1000)).toBe(false);
  });

  it('marks 4004 and 4010-4014 as not reconnectable', () => {
    const notReconnectable = Object.values(GatewayCloseCode).filter((c) => !canReconnect(c));
    expect(notReconnectable.sort()).toEqual([4004, 4010, 4011, 4012, 4013, 4014]);
  });

  it('allows RESUME only where the session survives', () => {
    const resumable = Object.values(GatewayCloseCode).filter((c) => canResume(c));
    expect(resumable.sort()).toEqual([4000, 4001, 4002, 4005, 4008]);
  });
});
