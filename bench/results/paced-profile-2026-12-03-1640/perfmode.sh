#!/bin/bash
# usage: perfmode.sh MODE OUT
mode=$1; out=$2
cd /work/main
BENCH_NODE_FLAGS=--perf-basic-prof npm run bench:paced-cpu -- --sessions 1000 --modes $mode --seconds 3 --messages 600 > $out.log 2>&1 &
until grep -q "idle:" $out.log 2>/dev/null; do sleep 0.5; done
sleep 3
if [ $mode = off ]; then P=$(pgrep -f "dist/server/main.js"); elif [ $mode = socketio ]; then P=$(pgrep -f "socketio-server.ts" | head -1); else P=$(pgrep -f "floor-server.ts" | head -1); fi
echo "pid $P" >> $out.pid
perf record -F 2000 -a $PERFARGS -o $out.data -- sleep 22 > /dev/null 2>&1
wait
