// Preloaded (--import) into every server child of `npm run bench`, which runs
// with --expose-gc: on {cmd:'heap'} over IPC it collects garbage and answers
// {ev:'heap', heapUsed, rss} from process.memoryUsage(), so memory per idle
// session can be read as heap after a GC as well as RSS.
type Gc = () => void;

if (process.send) {
  process.on('message', (msg: { cmd?: string } | undefined) => {
    if (msg?.cmd !== 'heap') return;
    const gc = (globalThis as { gc?: Gc }).gc;
    // Twice: the first one's finalizers and weak callbacks free more for the second.
    gc?.();
    gc?.();
    const { heapUsed, rss } = process.memoryUsage();
    process.send!({ ev: 'heap', heapUsed: gc ? heapUsed : NaN, rss });
  });
}
