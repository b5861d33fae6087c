// Reads one callgrind dump (the text format, `events: Ir`): the self
// instructions of the functions whose names match a pattern. Used to tell a
// counted section that held V8's compilers (a tier-up or a deopt) from a
// steady one, in the same process and the same dump that is being counted.
//
// Format: https://valgrind.org/docs/manual/cl-format.html. Names are
// compressed (`fn=(12) name` once, `fn=(12)` after), cost lines follow the
// function they belong to, and the cost line right after a `calls=` line is
// the callee's inclusive cost, not the caller's own.

/** V8's compilers and deoptimiser: TurboFan, Maglev, Sparkplug, the bytecode generator and parser, deopts. */
export const COMPILE_FUNCTIONS =
  /^v8::internal::(compiler::|Compiler::|maglev::|baseline::|interpreter::Bytecode(Generator|ArrayBuilder)|Parser|PreParser|Deoptimizer|TranslatedState|OptimizingCompileDispatcher)/;

/**
 * Self instructions of matching functions in `text`. `names` carries the
 * compressed-name table over dumps of one process (callgrind may refer in a
 * later dump to a name defined in an earlier one); pass the same map for each.
 */
export function selfInstructionsOf(text: string, pattern: RegExp, names: Map<string, string> = new Map()): number {
  let total = 0;
  let matching = false;
  let afterCalls = false;
  for (const line of text.split('\n')) {
    const c = line.charCodeAt(0);
    // A cost line: a position (a number, or +N/-N/* relative to the last) then the Ir count.
    if ((c >= 48 && c <= 57) || c === 43 || c === 45 || c === 42) {
      if (afterCalls) afterCalls = false;
      else if (matching) {
        const cost = Number(line.slice(line.indexOf(' ') + 1).split(' ')[0]);
        if (Number.isFinite(cost)) total += cost;
      }
      continue;
    }
    if (line.startsWith('calls=')) afterCalls = true;
    else if (line.startsWith('fn=')) matching = pattern.test(resolveName(line.slice(3), names));
    // A callee's name may be defined first in a call, and referred to by id in its own fn= line.
    else if (line.startsWith('cfn=')) resolveName(line.slice(4), names);
  }
  return total;
}

/** `(id) name` defines and returns name; `(id)` looks it up; an uncompressed name is itself. */
function resolveName(spec: string, names: Map<string, string>): string {
  const m = /^\((\d+)\)(?: (.*))?$/.exec(spec);
  if (m === null) return spec;
  if (m[2] !== undefined) {
    names.set(m[1]!, m[2]);
    return m[2];
  }
  return names.get(m[1]!) ?? '';
}
