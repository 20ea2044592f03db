#!/usr/bin/env bash
# Coverage-guided fuzzing of the pure core's parsers (fuzz/: cargo fuzz and
# libFuzzer).
#
#   npm run fuzz -- [--seconds N] [--target NAME]... [--jobs N] [--sanitizer none|address]
#
# Builds the targets, runs each one (or each --target) for N seconds (default
# 60), --jobs of them at a time (default 1), and prints each target's
# executions from libFuzzer's final stats. Exits non-zero when any target
# crashed (a panic, a failed assertion, an input that took over 10 s, or
# running out of memory): the input is kept in fuzz/artifacts/NAME/, and the
# output shows the command that replays it.
#
# Inputs that reached new code are kept in fuzz/corpus/NAME/ (not tracked),
# beside the tracked seeds in fuzz/seeds/NAME/, so later runs start further in.
#
# Installed when missing: cargo-fuzz at a pinned version, compiled from
# crates.io into $HOOKGATE_TOOLS (about a minute, once per machine), and the
# nightly toolchain (rustup, minimal profile). Where nightly cannot be
# installed (a machine that reaches crates.io but not rustup's servers), the
# stable toolchain is used: without a sanitizer cargo fuzz needs nothing
# unstable.
#
# The sanitizer is none by default: the core has no unsafe code, so
# AddressSanitizer would only watch the dependencies' unsafe code, at a cost
# of 2.5 to 4.5 times fewer executions per second. Debug assertions and
# overflow checks are on either way. `--sanitizer address` needs nightly.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/tools.sh"
source "$(dirname "${BASH_SOURCE[0]}")/install.sh"
cd "$HOOKGATE_ROOT"

say() { echo "fuzz: $*" >&2; }
usage() { sed -n '2,6p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }

seconds=60
jobs=1
sanitizer=none
wanted=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="${2:-}"; shift 2 ;;
    --seconds=*) seconds="${1#*=}"; shift ;;
    --target) wanted+=("${2:-}"); shift 2 ;;
    --target=*) wanted+=("${1#*=}"); shift ;;
    --jobs) jobs="${2:-}"; shift 2 ;;
    --jobs=*) jobs="${1#*=}"; shift ;;
    --sanitizer) sanitizer="${2:-}"; shift 2 ;;
    --sanitizer=*) sanitizer="${1#*=}"; shift ;;
    -h|--help) usage ;;
    *) say "unknown argument: $1"; usage ;;
  esac
done
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || { say "--seconds takes a whole number of seconds"; exit 2; }
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || { say "--jobs takes a whole number"; exit 2; }
case "$sanitizer" in none|address) ;; *) say "--sanitizer takes none or address"; exit 2 ;; esac

work="$(mktemp -d)"
children=()
kill_tree() { # pid: the process and everything it started, by pid
  local child
  for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do kill_tree "$child"; done
  kill "$1" 2>/dev/null || true
}
cleanup() {
  local pid
  for pid in "${children[@]}"; do kill_tree "$pid"; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# cargo-fuzz, pinned, compiled from crates.io once per machine.
install_crate cargo-fuzz "$CARGO_FUZZ_VERSION" "$CARGO_FUZZ_BIN" "about a minute on 2 cores"
export PATH="$(dirname "$CARGO_FUZZ_BIN"):$PATH"

# The toolchain: nightly, installed when missing; stable where it cannot be.
toolchain="${HOOKGATE_FUZZ_TOOLCHAIN:-}"
if [ -z "$toolchain" ]; then
  if rustup toolchain list | grep -q '^nightly-'; then
    toolchain=nightly
  else
    say "installing the nightly toolchain (rustup, minimal profile)..."
    if timeout 300 rustup toolchain install nightly --profile minimal >"$work/nightly.log" 2>&1; then
      toolchain=nightly
    else
      tail -n 3 "$work/nightly.log" >&2
      say "nightly could not be installed; fuzzing with the stable toolchain"
      toolchain=stable
    fi
  fi
fi
if [ "$sanitizer" != none ] && [ "$toolchain" != nightly ]; then
  say "--sanitizer $sanitizer needs the nightly toolchain, and $toolchain is used"
  exit 2
fi
fuzz() { cargo "+$toolchain" fuzz "$@"; }

mapfile -t all < <(fuzz list)
if [ ${#wanted[@]} -eq 0 ]; then
  targets=("${all[@]}")
else
  for target in "${wanted[@]}"; do
    printf '%s\n' "${all[@]}" | grep -qx -- "$target" \
      || { say "no target named '$target'; the targets are: ${all[*]}"; exit 2; }
  done
  targets=("${wanted[@]}")
fi

started=$SECONDS
say "building ${#targets[@]} target(s) with $toolchain, sanitizer $sanitizer..."
build_args=(--sanitizer "$sanitizer")
if [ ${#wanted[@]} -eq 0 ]; then
  fuzz build "${build_args[@]}" >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; say "the build failed"; exit 1; }
else
  for target in "${targets[@]}"; do
    fuzz build "${build_args[@]}" "$target" >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; say "the build failed"; exit 1; }
  done
fi
build_seconds=$((SECONDS - started))
say "  built in ${build_seconds}s"

# One target: its log, exit code and time land in $work.
run_one() { # target
  local target=$1 began=$SECONDS rc=0
  local dirs=("fuzz/corpus/$target")
  mkdir -p "fuzz/corpus/$target"
  if [ -d "fuzz/seeds/$target" ]; then dirs+=("fuzz/seeds/$target"); fi
  timeout --kill-after=30 $((seconds + 300)) \
    cargo "+$toolchain" fuzz run "${build_args[@]}" "$target" "${dirs[@]}" -- \
    -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
    >"$work/$target.log" 2>&1 || rc=$?
  echo "$rc" >"$work/$target.rc"
  echo $((SECONDS - began)) >"$work/$target.time"
  say "  $target: $(executions "$target") executions$([ "$rc" -eq 0 ] || echo ", FAILED (exit $rc)")"
}

# Executions from libFuzzer's final stats (its "Done N runs" line otherwise).
executions() { # target
  local log="$work/$1.log" n
  n="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -n 1 | grep -o '[0-9]*$' || true)"
  [ -n "$n" ] || n="$(grep -o '^Done [0-9]* runs' "$log" | tail -n 1 | grep -o '[0-9][0-9]*' || true)"
  echo "${n:-?}"
}

say "running each target for ${seconds}s, $jobs at a time..."
running=0
for target in "${targets[@]}"; do
  run_one "$target" &
  children+=($!)
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n || true
    running=$((running - 1))
  fi
done
wait || true
children=()

failed=()
printf '%-14s %12s %10s  %s\n' target executions exec/s result
for target in "${targets[@]}"; do
  rc="$(cat "$work/$target.rc" 2>/dev/null || echo '?')"
  n="$(executions "$target")"
  rate="$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$work/$target.log" | tail -n 1 | grep -o '[0-9]*$' || true)"
  if [ "$rc" = 0 ]; then result=ok; else result="FAILED (exit $rc)"; failed+=("$target"); fi
  printf '%-14s %12s %10s  %s\n' "$target" "$n" "${rate:-?}" "$result"
done
say "${#targets[@]} target(s) x ${seconds}s in $((SECONDS - started))s (build ${build_seconds}s)"

if [ ${#failed[@]} -gt 0 ]; then
  for target in "${failed[@]}"; do
    echo >&2
    say "== $target failed:"
    grep -A 2 'panicked at' "$work/$target.log" | head -n 6 >&2 || true
    say "== the end of its output:"
    tail -n 40 "$work/$target.log" >&2
  done
  say "crashed: ${failed[*]} (inputs in fuzz/artifacts/; make each a regression test)"
  exit 1
fi
say "no crashes"
