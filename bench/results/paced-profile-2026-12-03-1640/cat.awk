{ tid=$1; $1=""; s=$0;
  if (s ~ /\[kernel/ || s ~ /_k\]/) k="kernel";
  else if (s ~ /JS:\*/) k="js-opt";
  else if (s ~ /JS:[\^~]/) k="js-low-tier";
  else if (s ~ /Builtins_.*(IC|Baseline)/) k="builtins-IC/baseline";
  else if (s ~ /Builtins_/) k="builtins-other";
  else if (s ~ /compiler::/) k="turbofan";
  else if (s ~ /Heap|GC|Scaveng|Mark|Sweep|Evacuat|heap::|Marking/) k="gc";
  else k="native-other";
  c[k]++; n++ }
END { for (k in c) printf "%-22s %6d %5.1f%%\n", k, c[k], 100*c[k]/n; printf "%-22s %6d\n", "total", n }
