#!/usr/bin/env bash
# Prints unit-test coverage per package of pkg/ from a Go cover profile, and
# their total; fails when the total is under the floor (default 80%).
# Test-support packages (named *test) are left out: they are test code.
set -euo pipefail
profile=${1:?usage: hack/coverage.sh PROFILE [MIN_PERCENT]}
min=${2:-80}
# A block may appear once per test binary: count it once, covered if any
# binary covered it.
awk 'NR > 1 {
       split($1, a, ":"); pkg = a[1]; sub(/\/[^\/]*$/, "", pkg)
       if (pkg !~ /\/pkg\// || pkg ~ /test$/) next
       n[$1] = $2; p[$1] = pkg; if ($3 > 0) hit[$1] = 1
     }
     END { for (b in n) { s[p[b]] += n[b]; if (b in hit) c[p[b]] += n[b] }
           for (k in s) print k, s[k], c[k] + 0 }' "$profile" | sort |
  awk -v min="$min" '{
       short = $1; sub(/.*\/pkg\//, "pkg/", short)
       printf "coverage %-30s %5.1f%% of %d statements\n", short, 100 * $3 / $2, $2
       total += $2; done += $3
     }
     END { pct = total ? 100 * done / total : 0
           printf "coverage %-30s %5.1f%% of %d statements (floor %d%%)\n", "pkg/ (total)", pct, total, min
           if (pct < min) { print "coverage of pkg/ is under the floor of " min "%" > "/dev/stderr"; exit 1 } }'
