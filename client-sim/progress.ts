// Progress while a run goes: on a terminal one line rewritten in place (\r);
// otherwise (CI logs, pipes) a plain line every few seconds. Always on
// stderr, so stdout carries only the summary.
import type { PoolStats } from './pool.js';

export interface ProgressFields {
  elapsedS: number;
  stage: string;
  stats?: PoolStats;
  eventsPerS?: number;
  sent?: number;
  toSend?: number;
  restErrors?: number;
}

export class Progress {
  private readonly tty: boolean;
  private lastPlain = 0;
  private lineOpen = false;

  constructor(
    private readonly mode: 'auto' | 'off',
    private readonly stream: NodeJS.WriteStream = process.stderr,
    /** Seconds between plain lines when not on a terminal. */
    private readonly plainEveryS = 5,
  ) {
    this.tty = stream.isTTY === true;
  }

  /** How often the caller should call `update`. */
  get intervalMs(): number {
    return this.tty ? 500 : 1000;
  }

  update(f: ProgressFields): void {
    if (this.mode === 'off') return;
    const parts = [`[${f.elapsedS.toFixed(1).padStart(6)}s]`, f.stage];
    if (f.stats) {
      const s = f.stats;
      parts.push(`sessions ${s.connected}/${s.sessions} connected, ${s.complete} ready`);
      if (f.eventsPerS !== undefined) parts.push(`events ${s.events.toLocaleString('en-US')} (${Math.round(f.eventsPerS).toLocaleString('en-US')}/s)`);
      if (s.outstanding > 0) parts.push(`in flight ${s.outstanding.toLocaleString('en-US')}`);
      parts.push(`errors ${s.errors + (f.restErrors ?? 0)}`);
    }
    if (f.toSend !== undefined && f.toSend > 0) parts.push(`sent ${f.sent ?? 0}/${f.toSend}`);
    const line = parts.join('  ');
    if (this.tty) {
      const width = this.stream.columns || 120; // 0 when the terminal does not say
      this.stream.write(`\r${line.slice(0, width - 1).padEnd(Math.min(width - 1, line.length + 10))}`);
      this.lineOpen = true;
    } else if (f.elapsedS - this.lastPlain >= this.plainEveryS || this.lastPlain === 0) {
      this.lastPlain = Math.max(f.elapsedS, 0.001);
      this.stream.write(`${line}\n`);
    }
  }

  /** A line that stays (stage changes, warnings). */
  note(text: string): void {
    if (this.mode === 'off') return;
    this.end();
    this.stream.write(`${text}\n`);
  }

  /** Ends the live line so what follows starts on its own line. */
  end(): void {
    if (this.lineOpen) this.stream.write('\n');
    this.lineOpen = false;
  }
}
