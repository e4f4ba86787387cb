#!/usr/bin/env bash
# Builds cloudlink and runs every test: formatting, the full CTest suite (unit, fuzz-corpus
# replay, integration on loopback, bpf where it can load), the unit tests again under
# ASan+UBSan, and each libFuzzer target for a short run. Installs what it needs first.
#   bash tests/run.sh            everything
#   SKIP_ASAN=1 SKIP_FUZZ=1 ...  skip the slower extra builds while developing
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=$(nproc)

bash deploy/install-deps.sh --packaging  # the package test (label package) builds .debs

echo "== clang-format"
# git ls-files when this is a checkout; otherwise every source outside the build trees.
mapfile -t sources < <(git ls-files '*.cpp' '*.h' '*.c' 2>/dev/null ||
  find . \( -path './build*' -o -path ./var -o -path ./.git \) -prune -o \
    \( -name '*.cpp' -o -name '*.h' -o -name '*.c' \) -print)
clang-format --dry-run --Werror "${sources[@]}"

echo "== build (RelWithDebInfo) and all tests"
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C "$root/build" -j "$jobs"
ctest --test-dir "$root/build" --output-on-failure -j "$jobs" -LE fuzz

if [ -z "${SKIP_ASAN:-}" ]; then
  echo "== unit tests under ASan+UBSan"
  cmake -S "$root" -B "$root/build-asan" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
    -DCLOUDLINK_SANITIZE=ON -DCLOUDLINK_BENCH=OFF >/dev/null
  ninja -C "$root/build-asan" -j "$jobs"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir "$root/build-asan" --output-on-failure -j "$jobs" -L unit
fi

if [ -z "${SKIP_FUZZ:-}" ]; then
  echo "== libFuzzer targets (${FUZZ_SECONDS:-30} s each)"
  CC=clang CXX=clang++ cmake -S "$root" -B "$root/build-fuzz" -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCLOUDLINK_FUZZ=ON -DCLOUDLINK_BENCH=OFF \
    -DCLOUDLINK_FUZZ_SECONDS="${FUZZ_SECONDS:-30}" >/dev/null
  ninja -C "$root/build-fuzz" -j "$jobs" fuzzers
  ctest --test-dir "$root/build-fuzz" --output-on-failure -j "$jobs" -L fuzz
fi
echo "== all tests passed"
