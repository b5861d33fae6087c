// The context manager: OpenTelemetry's AsyncLocalStorage manager, remembering
// the active context of the async resource that is running.
//
// Every send reads the active context (the Transport must know whether the
// sender's span is sampled). On Node 20 an AsyncLocalStorage read is a
// keyed load from whichever resource runs (an Immediate, a promise, a tick):
// 5-30 ns, up to half of a whole local send -> handle. A handler's sends, a
// broadcast's deliveries, a drain of many messages all run in one resource,
// so the context is read from AsyncLocalStorage once and then from a field.
//
// Why that is right where AsyncLocalStorage keeps its stores on async
// resources (async hooks: Node 20, and 22 by default): a resource is named by
// executionAsyncId(), ids are never reused, and the store of a resource
// changes only by
//   - `with()` (AsyncLocalStorage.run on the running resource), which
//     remembers its own context and puts back the outer one on exit, as run()
//     puts back the outer store;
//   - `attach()` (enterWith) and its dispose(), and `disable()`, which forget.
// Entering another resource (a continuation, a timer, runInAsyncScope) changes
// executionAsyncId(), which every read checks. Id 0 (a callback run outside
// any resource) names no one resource and is never remembered.
//
// Where stores live in AsyncContextFrame instead (Node 24), a continuation may
// bring back another context under the same executionAsyncId (promise hooks
// are off there): nothing is remembered and every read goes to the store
// (which is cheaper there).
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

/** No async resource has this id: nothing remembered. */
const NONE = -1;

export class ScopedContextManager extends AsyncLocalStorageContextManager {
  /** The active context of the resource `rememberedId`, valid while that resource runs. */
  private remembered: Context | undefined = undefined;
  private rememberedId = NONE;
  /** Counts attach(), dispose() and disable(): stores changed other than by a with() that has returned. */
  private changes = 0;
  /** False where remembering is not sound (see the top of this file). */
  readonly remembers: boolean = (remembering ??= !storesFollowFrames());

  override active(): Context {
    const id = executionAsyncId();
    if (id === this.rememberedId) return this.remembered!;
    const context = super.active();
    if (this.remembers && id !== 0) {
      this.remembered = context;
      this.rememberedId = id;
    }
    return context;
  }

  override with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    context: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    if (!this.remembers) return super.with(context, fn, thisArg, ...args);
    const outer = this.remembered;
    const outerId = this.rememberedId;
    const changes = this.changes;
    const id = executionAsyncId();
    this.remembered = context;
    this.rememberedId = id === 0 ? NONE : id;
    try {
      return super.with(context, fn, thisArg, ...args);
    } finally {
      // run() has put the outer store back, undoing an attach() made inside
      // too, so what was remembered before is right again; unless an attach()
      // inside changed another resource's store (entered with runInAsyncScope).
      this.remembered = outer;
      this.rememberedId = changes === this.changes ? outerId : NONE;
    }
  }

  override attach(context: Context): DisposeToken {
    // After the store changes: super.attach() reads active() for its token.
    const token = super.attach(context);
    this.forget();
    return {
      dispose: () => {
        token.dispose();
        this.forget();
      },
    };
  }

  override disable(): this {
    this.forget();
    super.disable();
    return this;
  }

  private forget(): void {
    this.rememberedId = NONE;
    this.changes++;
  }
}
