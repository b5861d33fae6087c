// The context manager: OpenTelemetry's AsyncLocalStorage manager, with the
// context of the innermost `with()` remembered for its synchronous extent.
//
// Every send reads the active context (the Transport must know whether the
// sender's span is sampled). An AsyncLocalStorage read costs 4-8 ns on
// Node 20, a tenth of a whole local send -> handle; code that runs inside
// `with()` (a traced handler, a loop of sends in a request's scope) gets the
// context it entered from a field instead.
//
// Why the remembered context is right: until `with()` returns, the store it
// set can change only by
//   - a nested `with()`, which remembers its own and restores ours on exit;
//   - `attach()` (enterWith), which forgets what was remembered;
//   - entering another async scope synchronously (AsyncResource's
//     runInAsyncScope, a bound callback, an EventEmitterAsyncResource), which
//     changes executionAsyncId(), checked on every read.
// Anything asynchronous (a continuation after `await`, a timer) runs after
// `with()` has returned, when nothing is remembered, and reads the store.
//
// One case escapes that check: re-entering the async resource that is already
// running. Where AsyncLocalStorage keeps stores on resources (async hooks:
// Node 20 and 22), `with()` changed that very resource's store, so the answer
// is the same; where it keeps them in AsyncContextFrame (Node 24), the
// resource brings back its own context. There, nothing is remembered and every
// read goes to the store (which is cheaper there anyway).
import { AsyncLocalStorage, AsyncResource, executionAsyncId } from 'node:async_hooks';
import type { Context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';

type DisposeToken = ReturnType<AsyncLocalStorageContextManager['attach']>;

/** True when re-entering a running resource restores its own store (AsyncContextFrame). */
function storesFollowFrames(): boolean {
  const als = new AsyncLocalStorage<string>();
  try {
    const resource = als.run('resource', () => new AsyncResource('guildhall.context-probe'));
    return resource.runInAsyncScope(() => als.run('inner', () => resource.runInAsyncScope(() => als.getStore()))) === 'resource';
  } finally {
    // On async hooks every enabled store is copied into each new async resource: leave none behind.
    als.disable();
  }
}

let remembering: boolean | undefined;

export class ScopedContextManager extends AsyncLocalStorageContextManager {
  /** The context of the innermost `with()` still on the stack, or undefined. */
  private scope: Context | undefined = undefined;
  /** executionAsyncId() when `scope` was entered: a different one means another async scope. */
  private scopeId = -1;
  /** False where remembering is not sound (see the top of this file). */
  readonly remembers: boolean = (remembering ??= !storesFollowFrames());

  override active(): Context {
    if (this.scope !== undefined && executionAsyncId() === this.scopeId) return this.scope;
    return super.active();
  }

  override with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    context: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    if (!this.remembers) return super.with(context, fn, thisArg, ...args);
    const outer = this.scope;
    const outerId = this.scopeId;
    this.scope = context;
    this.scopeId = executionAsyncId();
    try {
      return super.with(context, fn, thisArg, ...args);
    } finally {
      // AsyncLocalStorage.run restores the outer store here, an attach() made
      // inside included, so the outer scope is right again.
      this.scope = outer;
      this.scopeId = outerId;
    }
  }

  override attach(context: Context): DisposeToken {
    this.scope = undefined;
    const token = super.attach(context);
    return {
      dispose: () => {
        this.scope = undefined;
        token.dispose();
      },
    };
  }

  override disable(): this {
    this.scope = undefined;
    super.disable();
    return this;
  }
}
