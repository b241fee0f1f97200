#!/usr/bin/env bash
# Smoke test of the Linux tarball, as a new user would meet it:
#   smoke_test.sh dist/hearth-VERSION-linux-x86_64.tar.gz
# Installs it into a temporary prefix; on a fresh temporary HOME and with no network
# (unshare -n) it runs `hearth --self-test` (an answer from the built-in model, exit 0),
# checks that the built-in model and the whole installed tree are unchanged afterwards,
# starts the window offscreen and closes it (SIGTERM, as a logout does), then uninstalls.
set -euo pipefail
tarball=$(cd "$(dirname "${1:?usage: smoke_test.sh TARBALL}")" && pwd)/$(basename "$1")
starter_sha=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
work=$(mktemp -d "${TMPDIR:-/tmp}/hearth-smoke.XXXXXX")
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
say() { echo "smoke: $*"; }
fail() { echo "smoke: FAILED: $*" >&2; exit 1; }

tar -C "$work" -xzf "$tarball"
unpacked=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'hearth-*')
"$unpacked/install.sh" --prefix "$work/prefix" > "$work/install.log"
say "installed: $(head -1 "$work/install.log")"
exe=$work/prefix/bin/hearth
model=$work/prefix/lib/hearth/_internal/models/SmolLM2-135M-Instruct.Q4_1.gguf
[ -f "$model" ] || fail "the built-in model is not at $model"
manifest() { (cd "$work/prefix" && find . -printf '%p %s %m %T@\n' | sort); }
manifest > "$work/before"

mkdir -p "$work/home"
# HEARTH_NETWORK_AUDIT: every Hearth process logs each network attempt there (none allowed).
run=(env -i "HOME=$work/home" "PATH=/usr/bin:/bin" "LANG=C.UTF-8" "TMPDIR=$work"
     "HEARTH_NETWORK_AUDIT=$work/network.log")
if unshare -n true 2>/dev/null; then
    run=(unshare -n "${run[@]}")
    say "no network: running in a new network namespace (unshare -n)"
else
    say "SKIP of the no-network condition: unshare -n is not permitted here (it needs root" \
        "or user namespaces); the test runs with this machine's network"
fi

"${run[@]}" "$exe" --version | grep -q "^Hearth " || fail "--version"
if ! "${run[@]}" timeout 600 "$exe" --self-test > "$work/self-test.json" 2> "$work/self-test.err"; then
    cat "$work/self-test.err" >&2
    fail "hearth --self-test did not succeed"
fi
python3 - "$work/self-test.json" "$model" <<'PY' || fail "the self-test's answer"
import json, sys
result = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
assert result["model"] == sys.argv[2], f"answered with {result['model']}, not the built-in model"
assert result["reply"].strip(), "empty reply"
assert result["tokens"] > 0, "no tokens"
print(f"smoke: self-test answered ({result['tokens']} tokens, "
      f"{result['tokens_per_second']:.1f} tok/s): {result['reply'][:70]!r}")
PY
[ "$(sha256sum "$model" | cut -d' ' -f1)" = "$starter_sha" ] || fail "the built-in model changed"
manifest > "$work/after"
diff "$work/before" "$work/after" > /dev/null || { diff "$work/before" "$work/after" >&2;
    fail "the app wrote inside its installation"; }
say "the built-in model is byte-identical and nothing inside the installation changed"

# The window, offscreen: shown, then closed by SIGTERM; it must exit 0 and log no error.
log=$work/home/.local/state/hearth/log/hearth.log
: > "$log"
"${run[@]}" QT_QPA_PLATFORM=offscreen "$exe" > "$work/window.out" 2> "$work/window.err" &
pid=$!
for _ in $(seq 1 240); do  # up to 120 s to start on a slow, busy machine
    grep -q "Main window shown" "$log" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
done
grep -q "Main window shown" "$log" || { cat "$work/window.err" >&2; fail "the window did not start"; }
sleep 3  # let the start-up work run (library scan, GPU probe, download queue)
kill -TERM "$pid"
code=0
timeout 60 tail --pid="$pid" -f /dev/null || fail "the window did not close within 60 s"
wait "$pid" || code=$?
[ "$code" = 0 ] || { cat "$work/window.err" >&2; fail "the window exited with $code"; }
if grep -E " (ERROR|CRITICAL) " "$log" >&2 || grep -q "Traceback" "$work/window.err"; then
    cat "$work/window.err" >&2
    fail "the window logged an error"
fi
say "the window started offscreen and closed cleanly"
manifest > "$work/after"
diff -q "$work/before" "$work/after" > /dev/null || fail "the window wrote inside its installation"

if [ -s "$work/network.log" ]; then
    cat "$work/network.log" >&2
    fail "Hearth tried to use the network without being asked"
fi
say "no process of Hearth tried to use the network"

"$work/prefix/lib/hearth/uninstall.sh" > /dev/null
[ ! -e "$work/prefix/lib/hearth" ] && [ ! -e "$exe" ] \
    && [ ! -e "$work/prefix/share/applications/io.github.hearth.Hearth.desktop" ] \
    || fail "uninstall.sh left files behind"
[ -f "$work/home/.local/share/hearth/history.sqlite3" ] || fail "uninstall.sh lost the history"
say "uninstalled; the user's history was kept"
say "PASSED"
