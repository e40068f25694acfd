#!/usr/bin/env bash
# Installs the peers and the corpora (all from the registries), builds Release and runs the
# benchmark over: the Python standard library, the Boost headers, TypeScript's lib, and the Go
# source when installed; then the live index (edit-to-queryable, churn) over a copy of them.
# Usage: bench/run.sh [extra indexer_bench flags]
set -euo pipefail
cd "$(dirname "$0")/.."
./setup.sh
need=()
for p in fzf universal-ctags libboost-dev python3; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "ok installed" || need+=("$p")
done
if ((${#need[@]})); then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null; fi
cache=${INDEXER_BENCH_CACHE:-$HOME/.cache/indexer/bench}
if [ ! -d "$cache/node_modules/typescript/lib" ]; then
  mkdir -p "$cache" && (cd "$cache" && npm install --silent --no-save typescript@5.6.3 >/dev/null)
fi
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build --target indexer_bench indexer_live_bench indexer_serve_bench
# Debian's standard library, not a python3 on PATH that may carry hundreds of MB of site-packages.
py=$(ls -d /usr/lib/python3.[0-9]* 2>/dev/null | sort -V | tail -1)
[ -n "$py" ] || py=$(/usr/bin/python3 -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
corpora=("$py" /usr/include/boost "$cache/node_modules/typescript/lib")
for go in /usr/lib/go/src /usr/lib/go-*/src; do [ -d "$go" ] && corpora+=("$go") && break; done
echo "corpora: ${corpora[*]}"
build/indexer_bench "$@" "${corpora[@]}"
echo
build/indexer_live_bench "${corpora[@]}"
echo
build/indexer_serve_bench /usr/include/boost
