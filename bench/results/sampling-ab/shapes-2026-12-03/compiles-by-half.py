import sys, json, re, bisect, collections
d = json.load(open(sys.argv[2]))
wins = sorted((s['startUs']/1e6, s['endUs']/1e6, 'S' if s['sampled'] else 'U', s['rep']) for s in d['samples'])
starts = [w[0] for w in wins]
def where(t):
    i = bisect.bisect_right(starts, t) - 1
    if i < 0: return 'before'
    if t <= wins[i][1]: return wins[i][2]
    return 'gap-after-' + wins[i][2]
comp = collections.defaultdict(collections.Counter); deopt = collections.defaultdict(collections.Counter)
for line in open(sys.argv[1], errors='replace'):
    t, _, rest = line.partition(' ')
    t = float(t)
    i = bisect.bisect_right(starts, t) - 1
    if i >= 0 and wins[i][3] <= 2: continue  # skip first 2 reps (warm-up)
    w = where(t)
    m = re.search(r'completed optimizing 0x\w+ <JSFunction (\S*) ', rest)
    if m: comp[w][m.group(1)] += 1; continue
    m = re.search(r'SharedFunctionInfo ([^>]*)>.*reason: (.*)\]', rest)
    if m: deopt[w][(m.group(1), m.group(2))] += 1; continue
    m = re.search(r'bailout \(kind: ([^,]*), reason: ([^)]*)\).*?<JSFunction (\S*)', rest)
    if m: deopt[w][(m.group(3), m.group(1) + ': ' + m.group(2))] += 1
for w in sorted(comp): print(w, 'compiles', sum(comp[w].values()))
for w in sorted(deopt): print(w, 'deopts', sum(deopt[w].values()))
for w in ['S', 'U']:
    print('\n== compiled during', w, 'halves (reps 3+):'); print(', '.join('%s %d' % kv for kv in comp[w].most_common(40)))
for w in ['S', 'U', 'gap-after-S', 'gap-after-U']:
    print('\n== deopts during', w); print('; '.join('%s [%s] %d' % (k[0], k[1][:40], v) for k, v in deopt[w].most_common(25)))
