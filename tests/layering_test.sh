#!/usr/bin/env bash
# The layering quant <- index <- db <- rpc <- tools: a folder may include its
# own headers and those of the layers below it, never above. Also: no source
# file in the layers over 700 lines (split along a seam instead).
set -euo pipefail
root="${1:-$(cd "$(dirname "$0")/.." && pwd)}"
cd "$root"
layers=(quant index db rpc tools)
fail=0
for i in "${!layers[@]}"; do
  layer=${layers[$i]}
  above=("${layers[@]:$((i + 1))}")
  [ ${#above[@]} -eq 0 ] && continue
  pattern="#include \"($(IFS='|'; echo "${above[*]}"))/"
  if hits=$(grep -rnE "$pattern" "$layer" --include='*.h' --include='*.cc'); then
    echo "upward include in $layer/:"
    echo "$hits"
    fail=1
  fi
done
while read -r f; do
  n=$(wc -l < "$f")
  if [ "$n" -gt 700 ]; then
    echo "$f has $n lines (over 700)"
    fail=1
  fi
done < <(find quant index db rpc tools \( -name '*.cc' -o -name '*.h' \) \
           -not -path 'tools/fuzz/corpus/*')
[ "$fail" -eq 0 ] && echo "layering: ok"
exit "$fail"
