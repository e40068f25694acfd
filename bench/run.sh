#!/usr/bin/env bash
# Installs the peers and the corpora (all from the registries), builds Release and runs the
# benchmark over: the Python standard library, the Boost headers, TypeScript's lib, and the Go
# source when installed; then the live index (edit-to-queryable, churn) over a copy of them;
# then the service, with the LSP peers: clangd (Debian's) on Boost's asio and beast, pyright
# (npm, pinned) on the Python standard library; last, the diff beside GNU diff, git and dtl.
# Usage: bench/run.sh [extra indexer_bench flags]
set -euo pipefail
cd "$(dirname "$0")/.."
./setup.sh
need=()
# libssl-dev: asio's and beast's ssl headers include OpenSSL's, or clangd's TUs for them stop.
# libpcre2-dev: the regex engine the tokenizer's scanner is measured against.
# golang-src, rust-src, openjdk-17-source, libruby3.1, php-symfony-*: real trees of the languages the
# corpus above does not hold, indexed one language at a time below (the ratio to parse-only each).
for p in fzf universal-ctags libboost-dev python3 clangd libssl-dev libpcre2-dev \
         golang-src rust-src openjdk-17-source libruby3.1 php-symfony-console php-symfony-http-foundation php-symfony-dependency-injection; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "ok installed" || need+=("$p")
done
if ((${#need[@]})); then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null; fi
export INDEXER_BENCH_CACHE=${INDEXER_BENCH_CACHE:-$HOME/.cache/indexer/bench}
cache=$INDEXER_BENCH_CACHE
# TypeScript's lib is a corpus, pyright an LSP peer. One install for both: `npm install --no-save`
# removes what an earlier one put in node_modules.
npm_pins=(typescript@5.6.3 pyright@1.1.414)
for pin in "${npm_pins[@]}"; do
  if [ "$(node -p "require('$cache/node_modules/${pin%@*}/package.json').version" 2>/dev/null)" != "${pin#*@}" ]; then
    mkdir -p "$cache" && (cd "$cache" && npm install --silent --no-save "${npm_pins[@]}" >/dev/null)
    break
  fi
done
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build --target indexer_bench indexer_phases indexer_live_bench indexer_serve_bench indexer_diff_bench
# Debian's standard library, not a python3 on PATH that may carry hundreds of MB of site-packages.
py=$(ls -d /usr/lib/python3.[0-9]* 2>/dev/null | sort -V | tail -1)
[ -n "$py" ] || py=$(/usr/bin/python3 -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
corpora=("$py" /usr/include/boost "$cache/node_modules/typescript/lib")
echo "corpora: ${corpora[*]}"
build/indexer_bench "$@" "${corpora[@]}"
echo
# One language at a time: index time over tree-sitter's parse-only time (wall, and CPU per phase).
go=$(ls -d /usr/share/go-*/src /usr/lib/go-*/src 2>/dev/null | sort -V | tail -1)
jdk=$cache/jdk-src
if [ ! -d "$jdk/java.base" ]; then
  src=$(ls /usr/lib/jvm/*/lib/src.zip | sort -V | tail -1)
  mkdir -p "$jdk" && unzip -q -o "$src" 'java.base/*' 'java.net.http/*' 'java.sql/*' -d "$jdk"
fi
ruby=$(ls -d /usr/lib/ruby/[0-9]* | sort -V | tail -1)
for tree in "$go" /usr/lib/rustlib/src/rust/library "$jdk" "$ruby" /usr/share/php; do
  echo "== $tree"
  build/indexer_bench --no-queries --no-ranking --repeat 3 "$tree" | grep -E "parse only|^indexer |ratios|fastest"
  build/indexer_phases "$tree" | grep -E "^[a-z]+ +[0-9]+ |ours/parse-only"
done
# The import graph's in-repo resolution rate per language (with Go's own source when Debian's
# golang-src is installed), then our definitions beside universal-ctags' tags (with the Rust, JDK,
# Ruby and PHP trees too).
cmake --build build --target indexer_imports_bench indexer_ctags_recall
go_src=()
[ -n "$go" ] && go_src=("$go")
build/indexer_imports_bench "${corpora[@]}" "${go_src[@]}"
build/indexer_ctags_recall "${corpora[@]}" "${go_src[@]}" /usr/lib/rustlib/src/rust/library "$jdk" "$ruby" /usr/share/php
echo
build/indexer_live_bench "${corpora[@]}"
echo
build/indexer_serve_bench --seconds 4 --clangd /usr/include/boost/asio --clangd /usr/include/boost/beast --pyright "$py" /usr/include/boost
echo
# The tokenizer beside tiktoken, tiktoken-node, gpt-tokenizer and ai-tokenizer (npm, pinned in
# tests/clients), and its pre-tokenizer beside PCRE2.
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build --target indexer_tokens_bench indexer_tokens_regex_bench client_deps
node bench/tokens_bench.mjs
build/indexer_tokens_regex_bench README.md server/ws_server.cpp
build/indexer_diff_bench  # compress/diff beside GNU diff, git diff --histogram and dtl alone
echo
# The context compactor (a generated 200,000-token session to 50,000), the elision store with and
# without its dictionary, and the repo map at about 100k symbols (four copies of Python's library).
build/indexer_context_bench --copies 4 "$py"
echo
# The sandbox: /bin/true fully isolated beside posix_spawn, bwrap and unshare; runs/s at 2 and 16.
cmake --build build --target indexer_sandbox_bench
build/indexer_sandbox_bench --runs 200
echo
# The executor protocol: a task's round trip over stdio, beside the same done plainly in Node.
cmake --build build --target indexer_cli
node bench/executor_bench.mjs
echo
# The repo map at about a million symbols (forty copies; indexing them takes minutes).
build/indexer_context_bench --copies 40 "$py"
