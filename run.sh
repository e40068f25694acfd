#!/usr/bin/env bash
# The main job: install what is missing, build (Release), index this checkout, serve it, and show
# how to query it. The server keeps running until Ctrl-C (RUN_ONCE=1: stop after the examples).
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build
root=${1:-.}
log=$(mktemp)

echo
echo "== build/indexer serve $root"
build/indexer serve "$root" >"$log" &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -f "$log"' EXIT
trap 'exit 0' INT TERM
for _ in $(seq 600); do
  grep -q '^ready:' "$log" && break
  kill -0 $pid 2>/dev/null || { cat "$log"; exit 1; }
  sleep 0.2
done
cat "$log"
port=$(sed -n 's|.*ws://127.0.0.1:\([0-9]*\).*|\1|p' "$log" | head -1)

echo
echo "== build/indexer query IndexBuilder $root --limit 5   (answered by the running server)"
build/indexer query IndexBuilder "$root" --limit 5
echo
echo "== build/indexer query fuzMat $root --limit 3 --json   (camel humps: FuzzyMatcher, ...)"
build/indexer query fuzMat "$root" --limit 3 --json
if command -v curl >/dev/null; then
  echo
  echo "== JSON-RPC over HTTP: curl -s http://127.0.0.1:$port/rpc -d '{...symbols/search...}'"
  curl -s "http://127.0.0.1:$port/rpc" -d '{"jsonrpc":"2.0","id":1,"method":"symbols/search","params":{"pattern":"LiveIndex.update","limit":2}}'
  echo
fi
cat <<MSG

Serving $root on ws://127.0.0.1:$port (WebSocket JSON-RPC 2.0) and http://127.0.0.1:$port
(/health, /stats, /metrics, POST /rpc). Edits to the tree are followed live. Try, from another terminal:
  build/indexer query PATTERN $root [--kind class] [--lang cpp] [--path 'query/**'] [--json]
  build/indexer outline query/query.h
  build/indexer graph dependents query/query.h $root --depth 1
  curl -s http://127.0.0.1:$port/metrics
Editors: build/indexer lsp; agents: build/indexer mcp (see README.md). Ctrl-C stops the server.
MSG
if [ "${RUN_ONCE:-}" = 1 ]; then exit 0; fi
wait $pid
