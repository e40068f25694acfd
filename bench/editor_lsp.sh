#!/usr/bin/env bash
# Open-to-first-workspace-symbol time and workspace/symbol latency through the browser client
# (monaco-languageclient in headless Chromium over indexer serve's /lsp) next to a stdio client
# (vscode-languageserver-protocol over indexer lsp), in one run, on one tree:
#   bench/editor_lsp.sh BUILD_DIR [TREE [QUERY]]
# The browser test's page must be built (ctest's build does: tests/browser/dist).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export INDEXER_BINARY="$(cd "$1" && pwd)/indexer" BENCH=1
[ $# -ge 2 ] && export BENCH_TREE="$2"
[ $# -ge 3 ] && export BENCH_QUERY="$3"
node --test --test-name-pattern='^bench' "$here/../tests/browser/browser.test.mjs" 2>&1 | grep -E '^# (tree|open|workspace)|^not ok|error' | sed 's/^# //'
