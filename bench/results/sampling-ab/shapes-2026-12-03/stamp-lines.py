import sys, time
out = open(sys.argv[2], 'w')
with open(sys.argv[1], 'r', errors='replace') as f:
    for line in f:
        out.write('%.6f %s' % (time.monotonic(), line))
out.close()
