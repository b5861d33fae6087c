# usage: split.py PERF_SCRIPT_TXT RESULT_JSON PID FREQ
# perf script -F pid,tid,time,ip,sym,dso lines: "  pid/tid  time: ip sym (dso)"
import sys, json, re, bisect, collections
txt, res, pid, freq = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
d = json.load(open(res))
wins = sorted((s['startUs'], s['endUs'], s['sampled'], s['delivered']) for s in d['samples'])
starts = [w[0] for w in wins]
deliv = {True: 0, False: 0}
for w in wins: deliv[w[2]] += w[3]
line_re = re.compile(r'^\s*(\d+)/(\d+)\s+([\d.]+):\s+([0-9a-f]+)\s+(.*?)\s+\((.*)\)\s*$')
def cat(sym, dso, main):
    if 'kernel' in dso or dso.startswith('[k'): c = 'kernel'
    elif sym.startswith('JS:'): c = 'js'
    elif re.search(r'Scaveng|MarkCompact|Marking|Sweep|Evacuat|heap::|Heap::|GCTracer|MinorMC|ConcurrentMark|Heap', sym): c = 'gc'
    elif re.search(r'compiler::|Compiler|maglev|Maglev|turboshaft|Pipeline|Bytecode|Parser|Deoptimizer|baseline', sym): c = 'compiler'
    elif sym.startswith('Builtins_'): c = 'builtins'
    else: c = 'native'
    return ('main ' if main else 'other ') + c
cnt = {True: collections.Counter(), False: collections.Counter()}
sym_cnt = {True: collections.Counter(), False: collections.Counter()}
n = 0
for line in open(txt, errors='replace'):
    m = line_re.match(line)
    if not m: continue
    p, t = int(m.group(1)), int(m.group(2))
    if p != pid: continue
    us = float(m.group(3)) * 1e6
    i = bisect.bisect_right(starts, us) - 1
    if i < 0 or us > wins[i][1]: continue
    kind = wins[i][2]
    sym, dso = m.group(5), m.group(6)
    sym = re.sub(r'\+0x[0-9a-f]+$', '', sym)
    sym = re.sub(r' file://\S+| /work/\S+| node:\S+', '', sym)
    c = cat(sym, dso, p == t)
    cnt[kind][c] += 1
    sym_cnt[kind][(c, sym)] += 1
    n += 1
per = lambda k, v: v / freq * 1e6 / deliv[k]
print('samples in windows', n, 'deliveries', deliv)
keys = sorted(set(cnt[True]) | set(cnt[False]))
tot = {k: sum(cnt[k].values()) for k in (True, False)}
print('%-16s %9s %9s %9s' % ('category', 'sampled', 'unsampled', 'excess'))
for c in keys:
    a, b = per(True, cnt[True][c]), per(False, cnt[False][c])
    print('%-16s %9.3f %9.3f %+9.3f' % (c, a, b, a - b))
print('%-16s %9.3f %9.3f %+9.3f' % ('all', per(True, tot[True]), per(False, tot[False]), per(True, tot[True]) - per(False, tot[False])))
print('\ntop excess symbols (µs per delivery, x1000 = per broadcast at 1000 sessions):')
allk = set(sym_cnt[True]) | set(sym_cnt[False])
ex = sorted(((per(True, sym_cnt[True][k]) - per(False, sym_cnt[False][k]), k) for k in allk), reverse=True)
for e, k in ex[:45]: print('%+8.4f  %-16s %s' % (e, k[0], k[1][:110]))
print('...most negative:')
for e, k in ex[-10:]: print('%+8.4f  %-16s %s' % (e, k[0], k[1][:110]))
