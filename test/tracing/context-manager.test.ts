import { AsyncResource } from 'node:async_hooks';
import { EventEmitterAsyncResource } from 'node:events';
import { type Context, type ContextManager, ROOT_CONTEXT, createContextKey } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { describe, expect, it } from 'vitest';
import { ScopedContextManager } from '../../tracing/index.js';

// One suite for both: OpenTelemetry's AsyncLocalStorage manager is the
// reference, and the scoped manager must be indistinguishable from it.
type Manager = ContextManager & { attach(context: Context): { dispose(): void } };
const implementations: [string, () => Manager][] = [
  ['AsyncLocalStorageContextManager (reference)', () => new AsyncLocalStorageContextManager().enable()],
  ['ScopedContextManager', () => new ScopedContextManager().enable()],
];

const KEY = createContextKey('test.name');
const named = (name: string): Context => ROOT_CONTEXT.setValue(KEY, name);
const nameOf = (ctx: Context): unknown => ctx.getValue(KEY) ?? 'root';
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe.each(implementations)('%s', (_name, make) => {
  it('is ROOT outside any with(), and the given context inside it', () => {
    const m = make();
    expect(m.active()).toBe(ROOT_CONTEXT);
    const a = named('a');
    expect(m.with(a, () => m.active())).toBe(a);
    expect(m.active()).toBe(ROOT_CONTEXT);
  });

  it('restores the outer context after a nested with(), and after a throw', () => {
    const m = make();
    const seen: unknown[] = [];
    m.with(named('a'), () => {
      seen.push(nameOf(m.active()));
      m.with(named('b'), () => seen.push(nameOf(m.active())));
      seen.push(nameOf(m.active()));
      expect(() =>
        m.with(named('c'), () => {
          throw new Error('boom');
        }),
      ).toThrow('boom');
      seen.push(nameOf(m.active()));
    });
    expect(seen).toEqual(['a', 'b', 'a', 'a']);
  });

  it('passes this and arguments through', () => {
    const m = make();
    const self = { k: 2 };
    const r = m.with(named('a'), function (this: typeof self, x: number, y: number) {
      return this.k * x + y;
    }, self, 3, 4);
    expect(r).toBe(10);
  });

  it('keeps each async flow in its own context across awaits, interleaved', async () => {
    const m = make();
    const seen: string[] = [];
    const flow = (name: string) =>
      m.with(named(name), async () => {
        for (let i = 0; i < 3; i++) {
          await tick();
          seen.push(`${name}:${String(nameOf(m.active()))}`);
        }
      });
    await Promise.all([flow('a'), flow('b')]);
    expect(seen.filter((s) => s.startsWith('a:'))).toEqual(['a:a', 'a:a', 'a:a']);
    expect(seen.filter((s) => s.startsWith('b:'))).toEqual(['b:b', 'b:b', 'b:b']);
    expect(m.active()).toBe(ROOT_CONTEXT);
  });

  it('does not leak a context into callbacks scheduled outside it that run later', async () => {
    const m = make();
    let later: unknown;
    setImmediate(() => (later = nameOf(m.active())));
    m.with(named('a'), () => {
      // Nothing inside may change what the outside immediate sees.
    });
    await tick();
    expect(later).toBe('root');
  });

  it('gives callbacks scheduled inside with() its context (timers, ticks, microtasks)', async () => {
    const m = make();
    const seen: unknown[] = [];
    m.with(named('a'), () => {
      setImmediate(() => seen.push(nameOf(m.active())));
      process.nextTick(() => seen.push(nameOf(m.active())));
      queueMicrotask(() => seen.push(nameOf(m.active())));
    });
    await tick();
    await tick();
    expect(seen).toEqual(['a', 'a', 'a']);
  });

  it("sees an AsyncResource's own context when it is entered synchronously inside with()", () => {
    const m = make();
    // Made in context b, entered while a is active: the resource's context wins.
    const resource = m.with(named('b'), () => new AsyncResource('test'));
    const seen = m.with(named('a'), () => {
      const inside = resource.runInAsyncScope(() => nameOf(m.active()));
      return [inside, nameOf(m.active())];
    });
    expect(seen).toEqual(['b', 'a']);
  });

  it('runs a bound function and an emitter resource in their own contexts, inside another with()', () => {
    const m = make();
    const bound = m.with(named('b'), () => AsyncResource.bind(() => nameOf(m.active())));
    const emitter = m.with(named('c'), () => new EventEmitterAsyncResource({ name: 'test' }));
    let fromEmit: unknown;
    emitter.on('x', () => (fromEmit = nameOf(m.active())));
    const seen = m.with(named('a'), () => {
      const fromBound = bound();
      emitter.emit('x');
      return [fromBound, fromEmit, nameOf(m.active())];
    });
    expect(seen).toEqual(['b', 'c', 'a']);
    emitter.emitDestroy();
  });

  it('nests with() inside an entered AsyncResource and comes back out right', () => {
    const m = make();
    const resource = m.with(named('b'), () => new AsyncResource('test'));
    const seen = m.with(named('a'), () =>
      resource.runInAsyncScope(() => {
        const inner = m.with(named('c'), () => nameOf(m.active()));
        return [inner, nameOf(m.active())];
      }),
    );
    expect(seen).toEqual(['c', 'b']);
  });

  it('follows attach() and its dispose() inside with()', () => {
    const m = make();
    const seen = m.with(named('a'), () => {
      const token = m.attach(named('b'));
      const attached = nameOf(m.active());
      token.dispose();
      return [attached, nameOf(m.active())];
    });
    expect(seen).toEqual(['b', 'a']);
    expect(m.active()).toBe(ROOT_CONTEXT);
  });

  it('reads ROOT outside with() before and after one, in the same resource', () => {
    const m = make();
    const seen = [nameOf(m.active())];
    m.with(named('a'), () => seen.push(nameOf(m.active())));
    seen.push(nameOf(m.active()));
    expect(seen).toEqual(['root', 'a', 'root']);
  });

  it('follows attach() and dispose() outside any with()', async () => {
    const m = make();
    // In a resource of its own, so the attach cannot reach the test runner's context.
    const seen = await new Promise<unknown[]>((resolve) =>
      setImmediate(() => {
        const before = nameOf(m.active());
        const token = m.attach(named('b'));
        const attached = nameOf(m.active());
        token.dispose();
        resolve([before, attached, nameOf(m.active())]);
      }),
    );
    expect(seen).toEqual(['root', 'b', 'root']);
  });

  it('gives each of many resources its own context, read after read', async () => {
    const m = make();
    const names = ['a', 'b', 'c', 'd'];
    const seen = await Promise.all(
      names.map((n) => m.with(named(n), () => new Promise<unknown[]>((resolve) => setImmediate(() => resolve([nameOf(m.active()), nameOf(m.active())]))))),
    );
    expect(seen).toEqual(names.map((n) => [n, n]));
  });

  it('is ROOT everywhere once disabled', () => {
    const m = make();
    const inside = m.with(named('a'), () => {
      m.disable();
      return m.active();
    });
    expect(inside).toBe(ROOT_CONTEXT);
  });

  it('binds functions to a context', () => {
    const m = make();
    const f = m.bind(named('b'), () => nameOf(m.active()));
    expect(m.with(named('a'), () => f())).toBe('b');
  });
});

// Where the answer depends on how Node.js keeps async context: with
// AsyncLocalStorage on async hooks (Node 20, 22) with() changes the running
// resource's own store, so re-entering that resource sees with()'s context;
// with AsyncContextFrame (Node 24) the resource brings back its own.
it('agrees with the reference when a running resource is re-entered inside with()', () => {
  const reenter = (m: Manager) => {
    const resource = m.with(named('b'), () => new AsyncResource('test'));
    return resource.runInAsyncScope(() => m.with(named('a'), () => resource.runInAsyncScope(() => nameOf(m.active()))));
  };
  const [reference, scoped] = implementations.map(([, make]) => reenter(make()));
  expect(scoped).toBe(reference);
});

it('agrees with the reference when attach() inside with() changes another resource', () => {
  const scenario = (m: Manager) => {
    const other = new AsyncResource('test');
    other.runInAsyncScope(() => m.active());
    m.with(named('a'), () => other.runInAsyncScope(() => m.attach(named('d'))));
    return other.runInAsyncScope(() => nameOf(m.active()));
  };
  const [reference, scoped] = implementations.map(([, make]) => scenario(make()));
  expect(scoped).toBe(reference);
});
