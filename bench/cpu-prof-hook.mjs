// Loaded into a benchmark's server processes with NODE_OPTIONS=--import (where
// --cpu-prof is not allowed): profiles the process from start to exit and
// writes the V8 CPU profile, as --cpu-prof would, to
// $GUILDHALL_CPU_PROF_DIR/<$GUILDHALL_CPU_PROF_TAG>-<pid>.cpuprofile.
// The inspector session of the process's own thread answers synchronously, so
// the profile can be taken in the 'exit' handler.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

const dir = process.env.GUILDHALL_CPU_PROF_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 1000 });
  session.post('Profiler.start');
  process.once('exit', () => {
    session.post('Profiler.stop', (err, result) => {
      if (!err) writeFileSync(join(dir, `${process.env.GUILDHALL_CPU_PROF_TAG ?? 'node'}-${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
