#!/usr/bin/env bash
# The README's main command: installs what is missing (apt), builds tqdb,
# then runs the main job on a bundled real sample (18,000 GloVe-100 words,
# tools/sample, see its NOTICE.txt):
#   1. starts `tqdb serve` on a free loopback port with a fresh data dir,
#   2. creates a collection and ingests the words with the CLI over gRPC
#      (payload = the word), trains the index,
#   3. asks for the neighbours of a few words and prints them as words,
#      then of one word among frequent words only and rare words only
#      (a payload index on the frequency rank, a filtered search),
#   4. prints the recall table of TurboQuant variants vs product
#      quantization at equal bytes from `tqdb bench` on the same sample,
#   5. stops the server with SIGTERM (clean shutdown, exit code 0).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/tools/setup.sh"
bash "$root/tools/build.sh" --target tqdb
tqdb="${TQDB_BUILD_DIR:-$root/build}/tools/tqdb"
sample="$root/tools/sample"
py=/usr/bin/python3  # Debian's (setup.sh installs it)

work="$(mktemp -d /tmp/tqdb_demo.XXXXXX)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

echo
"$tqdb" --version
start=$(date +%s)

echo
echo "== 1. tqdb serve (fresh data dir, free loopback port)"
"$tqdb" serve --data "$work/db" --listen 127.0.0.1:0 \
  --port-file "$work/port" > "$work/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  [ -s "$work/port" ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/serve.log"; exit 1; }
  sleep 0.1
done
addr="127.0.0.1:$(cat "$work/port")"
cat "$work/serve.log"

echo
echo "== 2. tqdb ingest over gRPC (payload = the word and its frequency rank)"
"$py" -c 'import json, sys
for i, w in enumerate(open(sys.argv[1], encoding="utf-8")):
    print(json.dumps({"word": w.rstrip("\n"), "rank": i + 1}))' \
  "$sample/glove100_18k.words.txt" > "$work/words.jsonl"
"$tqdb" ingest --server "$addr" --collection glove \
  --input "$sample/glove100_18k.fvecs" --payload "$work/words.jsonl" \
  --create --metric cosine --method renorm --bits 4 --train
echo
"$tqdb" collections --server "$addr"

echo
echo "== 3. nearest words (TurboQuant renorm 4 bits, nprobe 16, rescored)"
for word in music water germany software festival aircraft; do
  row=$(grep -n -x -F -- "$word" "$sample/glove100_18k.words.txt" | head -1 | cut -d: -f1)
  "$tqdb" search --server "$addr" --collection glove --json --k 9 \
    --nprobe 16 --rescore --query-file "$sample/glove100_18k.fvecs" \
    --row $((row - 1)) |
    "$py" -c 'import json, sys
r = json.load(sys.stdin)
word = sys.argv[1]
hits = [(h["payload"]["word"], h["score"]) for h in r["results"]]
near = ", ".join("%s %.2f" % (w, s) for w, s in hits if w != word)[:150]
print("  %-10s -> %s  (%.1f ms)" % (word, near, r["time_ms"]))' "$word"
done

echo
echo "== 3b. filtered search: a payload index on the rank, then the nearest"
echo "   words among the 1,000 most frequent and among the rare ones"
"$tqdb" collections --server "$addr" index glove rank integer
row=$(grep -n -x -F -- music "$sample/glove100_18k.words.txt" | head -1 | cut -d: -f1)
for f in '{"must": [{"key": "rank", "range": {"lte": 1000}}]}' \
         '{"must": [{"key": "rank", "range": {"gt": 12000}}]}'; do
  "$tqdb" search --server "$addr" --collection glove --json --k 9 \
    --nprobe 16 --rescore --query-file "$sample/glove100_18k.fvecs" \
    --row $((row - 1)) --filter "$f" |
    "$py" -c 'import json, sys
r = json.load(sys.stdin)
f = json.loads(sys.argv[1])["must"][0]["range"]
hits = [(h["payload"]["word"], h["payload"]["rank"]) for h in r["results"]]
near = ", ".join("%s #%d" % wr for wr in hits if wr[0] != "music")[:120]
p = r["plan"]
print("  music, rank %-8s -> %s" % (" ".join("%s %s" % kv for kv in f.items()),
                                   near))
print("    plan %s: %d matching words, %d scored, %.1f ms" % (
    p["kind"], p["matches"], p["scored"], r["time_ms"]))' "$f"
done
echo "   words of the 1,000 most frequent among a list (no index on 'word': read"
echo "   from the payloads of the rank's matches, and said so):"
"$tqdb" collections --server "$addr" count glove --filter '{"must": [
  {"key": "rank", "range": {"lte": 1000}},
  {"key": "word", "match": {"any": ["music", "songs", "festival", "composer"]}}]}'

echo
echo "== 4. recall per byte on the same sample: TurboQuant vs PQ (tqdb bench)"
echo "   base: the 18,000 words; queries: 1,000 other words; cosine; all"
echo "   lists probed, no rescoring, one thread. R@1@k = share of queries"
echo "   whose true nearest word is in the top k."
"$tqdb" bench --base "$sample/glove100_18k.fvecs" \
  --queries "$sample/glove100_query_1k.fvecs" --metric cosine \
  --methods renorm,mse,prod,pq --bits 2,3,4 --nprobe all \
  --label glove100_18k | grep -v "^note:"

echo
echo "== 5. stop the server (SIGTERM)"
kill -TERM "$server_pid"
rc=0
wait "$server_pid" || rc=$?
server_pid=""
tail -n 2 "$work/serve.log"
if [ "$rc" -ne 0 ]; then
  echo "demo: tqdb serve exited with $rc" >&2
  exit 1
fi
echo
echo "demo done in $(( $(date +%s) - start )) s after the build"
