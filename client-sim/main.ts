#!/usr/bin/env node
// client-sim: load and correctness for a Guildhall server over its public
// protocol. `client-sim <scenario> [options]`; --help lists them.
// Exit status: 0 passed, 1 failed (loss, errors or an assertion), 2 bad usage.
import { writeFile } from 'node:fs/promises';
import { CliError, USAGE, parseCli } from './cli.js';
import { formatReport } from './report.js';
import { runSimulation } from './run.js';

async function main(argv: readonly string[]): Promise<number> {
  let options;
  try {
    options = parseCli(argv);
  } catch (err) {
    if (err instanceof CliError) {
      process.stderr.write(`client-sim: ${err.message}\n\n${USAGE}\n`);
      return 2;
    }
    throw err;
  }
  if (!options) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  // The run bounds itself by --timeout; this is the backstop should something below it hang.
  setTimeout(() => {
    process.stderr.write(`client-sim: still running ${options.timeout + 60} s after start; giving up\n`);
    process.exit(1);
  }, (options.timeout + 60) * 1000).unref();
  const report = await runSimulation(options);
  process.stdout.write(`${formatReport(report)}\n`);
  if (options.json !== undefined) await writeFile(options.json, `${JSON.stringify(report, null, 2)}\n`);
  return report.passed ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Sockets are closed and workers stopped by now; anything still holding the loop is a bug,
    // and a load tool must not hang a CI job over it.
    setTimeout(() => process.exit(code), 2_000).unref();
  },
  (err: unknown) => {
    process.stderr.write(`client-sim: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  },
);
