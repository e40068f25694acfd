#!/usr/bin/env bash
# The main job: install what is missing, build (Release), index this checkout and query it.
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build
root=${1:-.}
echo
echo "== build/indexer index $root"
build/indexer index "$root"
echo
echo "== build/indexer query IndexBuilder $root --limit 5"
build/indexer query IndexBuilder "$root" --limit 5
echo
echo "== build/indexer query fuzMat $root --limit 3 --json   (camel humps: FuzzyMatcher, ...)"
build/indexer query fuzMat "$root" --limit 3 --json
echo
cat <<MSG
Try next:
  build/indexer query PATTERN $root [--kind class] [--lang cpp] [--path 'query/**'] [--json]
  build/indexer outline query/query.h
  build/indexer export $root --format ctags -o tags
  build/indexer --help
MSG
