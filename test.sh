#!/usr/bin/env bash
# Every test: install what is missing, build Release and run the suite, then the same suite built
# with AddressSanitizer and UndefinedBehaviorSanitizer (mimalloc off there; tests labelled `once`,
# which run no code of ours or gain nothing from it, are left out: tests/CMakeLists.txt says which),
# then the fuzz targets (fuzz/: clang, libFuzzer and ASan; each runs its corpus, then fuzzes for a
# few seconds).
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh
jobs=$(nproc)

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build
ctest --test-dir build --output-on-failure -j "$jobs"

cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DINDEXER_SANITIZE=ON -DINDEXER_BENCH=OFF >/dev/null
cmake --build build-asan
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j "$jobs" -LE once

cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DINDEXER_FUZZ=ON \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
cmake --build build-fuzz
ctest --test-dir build-fuzz --output-on-failure -j "$jobs"
