#!/usr/bin/env bash
# Runs the libFuzzer targets of tests/fuzz one after another and prints, per target, executions per second,
# the corpus (files and bytes) and the crashes found. Not part of CI.
#
#   tests/fuzz/run_fuzzers.sh [SECONDS_PER_TARGET] [TARGET...]
#   targets: jpeg png webp video pdf safetensors model_file (default: all that are built); seconds default 60
#
# Configures build-fuzz with clang (-Dfuzz=true: ASan + UBSan + coverage on our code) if needed and builds only
# the fuzz targets. Each target's corpus lives in build-fuzz/fuzz/TARGET/corpus (not in git) and grows from
# run to run; it is seeded from ../shared/media (images, videos, PDFs, their malformed and edge cases) or, for
# model files and WebP (which shared/media lacks), from small valid files the target writes with the format's
# own writer. Findings (crash-*,
# leak-*, timeout-*, oom-*) go to build-fuzz/fuzz/TARGET/artifacts/; reproduce one with
#   build-fuzz/tests/fuzz/fuzz_TARGET build-fuzz/fuzz/TARGET/artifacts/crash-...
# libFuzzer stops a target at its first finding; the summary then shows the artifact.
set -uo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
shift || true
all=(jpeg png webp video pdf safetensors model_file)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")
build=build-fuzz
media=../shared/media

if [ ! -f "$build/build.ninja" ]; then
  CC=clang CXX=clang++ meson setup "$build" -Dfuzz=true -Dbenchmarks=false --buildtype=debugoptimized \
    -Db_lundef=false --wrap-mode=nodownload || exit 1
fi
build_targets=()
for t in "${targets[@]}"; do
  if ninja -C "$build" -t targets all 2>/dev/null | grep -q "^tests/fuzz/fuzz_$t:"; then
    build_targets+=("tests/fuzz/fuzz_$t")
  else
    echo "run_fuzzers: no target fuzz_$t in $build (io/model_file.h absent, or a typo); skipped" >&2
  fi
done
[ ${#build_targets[@]} -eq 0 ] && exit 1
ninja -C "$build" -j 2 "${build_targets[@]}" || exit 1

# Seed files for one target: "DIR/*.ext ..." patterns under ../shared/media.
seed_patterns() {
  case $1 in
    jpeg) echo "jpeg/*.jp*g malformed/jpeg/* edge/*.jpeg" ;;
    png) echo "png/*.png png/pngsuite/*.png malformed/png/* edge/*.png" ;;
    video) echo "video/* malformed/video/* edge/*.mp4" ;;
    pdf) echo "pdf/* malformed/pdf/* edge/*.pdf" ;;
  esac
}
# Longest input per target: big enough for the small seeds whole, small enough to keep runs fast (larger
# seeds are cut to it, which still exercises the truncation paths).
max_len() {
  case $1 in
    jpeg | png | webp | safetensors | model_file) echo 65536 ;;
    video) echo 262144 ;;  # decoding is slow (seconds per input on a busy machine): keep inputs short
    pdf) echo 1048576 ;;
  esac
}

summary=()
for t in "${targets[@]}"; do
  bin=$build/tests/fuzz/fuzz_$t
  [ -x "$bin" ] || continue
  work=$build/fuzz/$t
  mkdir -p "$work/corpus" "$work/seeds" "$work/artifacts"
  if [ -z "$(ls -A "$work/seeds")" ]; then
    case $t in
      safetensors | model_file | webp) GLMV_FUZZ_WRITE_SEEDS=$work/seeds "$bin" >/dev/null 2>&1 ;;
      *)
        if [ -d "$media" ]; then
          for p in $(seed_patterns "$t"); do
            for f in $media/$p; do [ -f "$f" ] && cp "$f" "$work/seeds/"; done
          done
        fi ;;
    esac
  fi
  before=$(ls "$work/artifacts" | wc -l)
  echo "== fuzz_$t: $seconds s, $(ls "$work/seeds" | wc -l) seeds, $(ls "$work/corpus" | wc -l) corpus files =="
  log=$work/last-run.log
  "$bin" "$work/corpus" "$work/seeds" -max_total_time="$seconds" -max_len="$(max_len "$t")" \
    -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 -artifact_prefix="$work/artifacts/" >"$log" 2>&1
  rc=$?
  execs=$(awk '/stat::number_of_executed_units/{print $NF}' "$log")
  rate=$(awk '/stat::average_exec_per_sec/{print $NF}' "$log")
  rss=$(awk '/stat::peak_rss_mb/{print $NF}' "$log")
  files=$(ls "$work/corpus" | wc -l)
  bytes=$(du -sb "$work/corpus" | cut -f1)
  found=$(( $(ls "$work/artifacts" | wc -l) - before ))
  line=$(printf "fuzz_%-12s %8s execs/s %10s execs  corpus %5d files %10d bytes  peak %5s MB  findings %d (exit %d)" \
    "$t" "${rate:-?}" "${execs:-?}" "$files" "$bytes" "${rss:-?}" "$found" "$rc")
  echo "$line"
  if [ "$found" -gt 0 ]; then
    ls -t "$work/artifacts" | head -n "$found" | sed "s|^|    $work/artifacts/|"
    grep -m 3 -E "ERROR: |SUMMARY: |runtime error|invariant broken" "$log" | sed 's/^/    /'
  fi
  summary+=("$line")
done
echo "== summary =="
printf '%s\n' "${summary[@]}"
