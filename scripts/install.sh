# Sourced by the scripts that install tools (setup.sh, fuzz.sh), after
# tools.sh; each defines its own `say`. Kept apart from tools.sh, which
# build.sh counts among its inputs: these never change what is built.

# Runs a long step with a heartbeat, so a first run is never ten silent
# minutes: what is being done, that it is still going, and how long it took.
# The step's own output goes to a log that is shown only if it fails.
step() { # description command...
  local what=$1; shift
  local log started=$SECONDS
  log="$(mktemp)"
  say "$what..."
  "$@" >"$log" 2>&1 &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    for _ in $(seq 30); do
      sleep 1
      kill -0 "$pid" 2>/dev/null || break
    done
    if kill -0 "$pid" 2>/dev/null; then
      say "  still $what ($(elapsed $started) so far)"
    fi
  done
  if ! wait "$pid"; then
    cat "$log" >&2
    rm -f "$log"
    say "$what failed after $(elapsed $started)"
    return 1
  fi
  rm -f "$log"
  say "  done in $(elapsed $started)"
}
elapsed() { local s=$((SECONDS - $1)); printf '%dm%02ds' $((s / 60)) $((s % 60)); }

# cargo install of a crate with a lockfile of its own fails with --locked on
# this registry index, so the crates are installed at a pinned version without it.
install_crate() { # crate version binary-path how-long
  local crate=$1 version=$2 bin=$3 how_long=$4
  if [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -q "$version"; then
    return
  fi
  step "compiling $crate $version from crates.io (once per machine, $how_long)" \
    cargo install "$crate" --version "=$version" --root "$(dirname "$(dirname "$bin")")" --force
}
