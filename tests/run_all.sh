#!/usr/bin/env bash
# The whole test suite, as CI runs it: a release build and its tests, then the same tests built with
# AddressSanitizer and UndefinedBehaviorSanitizer. Ends with "tests: N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/.."
jobs=${GLMV_JOBS:-2}
passed=0 failed=0 skipped=0 status=0

run_suite() {  # name, build dir, meson setup options...
  local name=$1 dir=$2
  shift 2
  echo "== $name =="
  if [ -f "$dir/build.ninja" ]; then
    meson setup --reconfigure "$dir" "$@" >/dev/null || return 1
  else
    meson setup "$dir" --wrap-mode=nodownload "$@" || return 1
  fi
  ninja -C "$dir" -j "$jobs" || return 1
  local log
  log=$(mktemp)
  meson test -C "$dir" --print-errorlogs --num-processes 1 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  local ok fail skip
  ok=$(awk '/^Ok:/{print $2}' "$log"); fail=$(awk '/^Fail:/{print $2}' "$log"); skip=$(awk '/^Skipped:/{print $2}' "$log")
  passed=$((passed + ${ok:-0})); failed=$((failed + ${fail:-0})); skipped=$((skipped + ${skip:-0}))
  rm -f "$log"
  return "$rc"
}

# Unity builds (-Dunity=on: meson compiles a target's sources four to a file) parse the heavy headers (json,
# fmt, httplib, doctest) once per four files instead of once per file; targets that cannot take it say
# unity=off in their meson.build (Highway's foreach_target files in simd/, engine_batch's tests).
unity=-Dunity=on
run_suite "release build" build-test --buildtype=release "$unity" || status=1
# UBSan findings abort the test (no recovery), so they fail it; ASan does by default. -O1 and line tables
# only (-g1) keep reports readable and build it in under half the time of -O2 -g (matmul_quant.cc:
# 50 s against 111 s of CPU), which CI's 2 cores feel most.
run_suite "ASan + UBSan build" build-asan "$unity" -Doptimization=1 -Ddebug=false -Db_ndebug=false -Db_sanitize=address,undefined \
  -Db_lundef=false -Dbenchmarks=false "-Dcpp_args=-fno-sanitize-recover=all -g1" "-Dc_args=-g1" || status=1

# The failed tests again, last, where a log cut to its tail still shows them (python3 is CI's own).
[ "$failed" -eq 0 ] || python3 tests/print_failures.py build-test build-asan
echo "tests: $passed passed, $failed failed, $skipped skipped"
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then echo "tests: a build or setup step failed"; fi
exit "$status"
