#!/usr/bin/env bash
# The Windows service life cycle under Wine: install -> sc query -> net start -> events written from a tailed
# file -> service reload (a changed configuration applies, nothing lost or repeated) -> net stop -> Stopped with exit code 0, checkpoints saved -> uninstall.
# Needs: the x86_64-pc-windows-gnu target, mingw (x86_64-w64-mingw32-gcc), wine; ../shared/tools/wine beside
# the repository (the bcryptprimitives shim Wine 8 needs for Rust's std). When something is missing the test
# fails, unless LOGWARD_SKIP (comma-separated) names `wine` (LOGWARD_WINE_TEST=0 means the same).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
shim_src="$repo/../shared/tools/wine/bcryptprimitives-shim.c"
skip_requested() { [ "${LOGWARD_WINE_TEST:-1}" = 0 ] || [[ ",${LOGWARD_SKIP:-}," == *",wine,"* ]]; }
if skip_requested; then
  echo "wine-service-test: skipped by request (LOGWARD_SKIP=${LOGWARD_SKIP:-} LOGWARD_WINE_TEST=${LOGWARD_WINE_TEST:-})"
  exit 0
fi
cannot_run() {
  echo "wine-service-test: FAILED: cannot run: $*; install it, or set LOGWARD_SKIP=wine to skip this test on purpose" >&2
  exit 1
}
for tool in wine wineserver wineboot x86_64-w64-mingw32-gcc; do
  command -v "$tool" >/dev/null || cannot_run "$tool is not installed"
done
[ -f "$shim_src" ] || cannot_run "$shim_src is missing (the shared folder must sit beside the repository)"

fail() { echo "wine-service-test: FAILED: $*" >&2; [ -n "${WINEPREFIX:-}" ] && wineserver -k >/dev/null 2>&1 || true; exit 1; }

cargo build --locked --target x86_64-pc-windows-gnu >/dev/null 2>&1 || cargo build --locked --target x86_64-pc-windows-gnu
exe="$repo/target/x86_64-pc-windows-gnu/debug/logward.exe"
[ -f "$exe" ] || fail "no Windows build at $exe"

export WINEPREFIX; WINEPREFIX=$(mktemp -d /tmp/logward-wine.XXXXXX)
export WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
trap 'exec 9>&-; wineserver -k >/dev/null 2>&1 || true; rm -f "${keeper_in:-}"; [ -n "${KEEP_PREFIX:-}" ] || rm -rf "$WINEPREFIX"' EXIT
wineboot -i </dev/null >/dev/null 2>&1 || true
x86_64-w64-mingw32-gcc -shared -O2 -o "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" "$shim_src" -ladvapi32
# wineboot's own server lingers for a while; a second server started beside it splits the prefix in two
# (two services.exe, each with its own view), so wait for it to end before starting the persistent one.
wineserver -w
wineserver -p </dev/null >/dev/null 2>&1 &
# A head start for the persistent server before the first client: Wine offers no way to ask whether a server
# is up (its socket lives in a folder whose name is chosen at run time).
sleep 1
# Wine ends services.exe when the last ordinary process of the prefix exits and boots it again at the next
# wine command, starting every automatic service then (on Windows the SCM stays up). A console that waits on
# its input keeps one ordinary process alive, so the Service Control Manager lives through the whole test
# and `sc query` after the stop reports what the stop left, not a fresh boot.
keeper_in=$(mktemp -u /tmp/logward-wine-keeper.XXXXXX)
mkfifo "$keeper_in"
exec 9<>"$keeper_in"
wine cmd.exe <"$keeper_in" >/dev/null 2>&1 &
for _ in $(seq 1 30); do
  wine sc query </dev/null 2>/dev/null | grep -q "SERVICE_NAME" && break
  sleep 1
done

work="$WINEPREFIX/drive_c/lw"
mkdir -p "$work/logs" "$work/data"
cp "$exe" "$work/logward.exe"
for i in $(seq 1 500); do echo "wine service line $i"; done > "$work/logs/app.log"
cat > "$work/logward.yml" <<'YAML'
data_dir: C:\lw\data
progress_interval: 0s
shutdown_timeout: 20s
inputs:
  - type: file
    id: app
    paths: ['C:\lw\logs\*.log']
    scan_frequency: 500ms
outputs:
  - type: file
    path: C:\lw\data\out
    filename: events.ndjson
YAML

lines() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }
w() { wine "$@" </dev/null 2>&1 | tr -d '\r' || true; }
echo "== install"
out=$(w 'C:\lw\logward.exe' service install -c 'C:\lw\logward.yml' --name logward --account LocalSystem --data-dir 'C:\lw\data')
echo "$out"
echo "$out" | grep -q "installed service" || fail "install"
echo "== sc query (installed)"
q=""
for _ in $(seq 1 10); do
  q=$(w sc query logward)
  echo "$q" | grep -q "SERVICE_NAME: logward" && break
  sleep 1
done
echo "$q"
echo "$q" | grep -q "STOPPED" || fail "sc query does not show the installed, stopped service"
echo "== registry: automatic start"
key='HKLM\System\CurrentControlSet\Services\logward'
w reg query "$key" /v Start | grep -q "0x2" || fail "the service is not installed with automatic start"
echo "== net start"
w net start logward | grep -v "^$" || true
state=""
for _ in $(seq 1 30); do
  state=$(w sc query logward)
  echo "$state" | grep -q "RUNNING" && break
  sleep 1
done
echo "$state" | grep -q "RUNNING" || fail "the service did not reach RUNNING: $state"
echo "== waiting for events"
for _ in $(seq 1 60); do
  n=$(lines "$work/data/out/events.ndjson")
  [ "$n" -ge 500 ] && break
  sleep 1
done
[ "$n" -eq 500 ] || fail "expected 500 events, found $n"
grep -q '"message":"wine service line 500"' "$work/data/out/events.ndjson" || fail "the last line is missing"
echo "== service reload"
# The new configuration adds a field; lines read after the reload carry it, none is lost or repeated.
sed -i 's/^    scan_frequency: 500ms$/    scan_frequency: 500ms\n    fields: {generation: two}/' "$work/logward.yml"
out=$(w 'C:\lw\logward.exe' service reload --name logward)
echo "$out"
echo "$out" | grep -q "reload requested" || fail "service reload: $out"
for _ in $(seq 1 60); do
  grep -q "configuration reloaded" "$work"/data/logs/* 2>/dev/null && break
  sleep 1
done
grep -q "configuration reloaded" "$work"/data/logs/* 2>/dev/null || fail "the service did not reload: $(tail -5 "$work"/data/logs/* 2>/dev/null)"
for i in $(seq 501 600); do echo "wine service line $i"; done >> "$work/logs/app.log"
for _ in $(seq 1 60); do
  n=$(lines "$work/data/out/events.ndjson")
  [ "$n" -ge 600 ] && break
  sleep 1
done
[ "$n" -eq 600 ] || fail "expected 600 events after the reload, found $n"
grep '"message":"wine service line 600"' "$work/data/out/events.ndjson" | grep -q '"generation":"two"' || fail "the line read after the reload lacks the new field"
echo "== net stop"
w net stop logward | head -5
for _ in $(seq 1 40); do
  state=$(w sc query logward)
  echo "$state" | grep -q "STOPPED" && break
  sleep 1
done
echo "$state"
echo "$state" | grep -q "STOPPED" || fail "the service did not stop: $state"
echo "$state" | grep -Eq "WIN32_EXIT_CODE *: *0 " || fail "the exit code is not 0: $state"
grep -q '"offset": 10' "$work/data/registry/app.json" 2>/dev/null || grep -q '"offset"' "$work/data/registry/app.json" || fail "no registry saved"
size=$(stat -c %s "$work/logs/app.log")
grep -q "\"offset\": $size" "$work/data/registry/app.json" || fail "the registry offset is not the file size $size: $(cat "$work/data/registry/app.json")"
echo "== uninstall"
out=$(w 'C:\lw\logward.exe' service uninstall --name logward)
echo "$out"
echo "$out" | grep -q "removed service" || fail "uninstall"
w sc query logward | grep -q "RUNNING\|STOPPED" && fail "the service is still registered"
echo "== winlog input where the Event Log API does not answer"
# Wine only stubs EvtSubscribe: the live Event Log input must say so and retry with growing pauses while the
# agent goes on with its other inputs.
mkdir -p "$work/logs2"
for i in $(seq 1 50); do echo "beside winlog line $i"; done > "$work/logs2/other.log"
cat > "$work/winlog.yml" <<'YAML'
data_dir: C:\lw\data2
progress_interval: 0s
inputs:
  - type: winlog
    id: win
    channels: [Application]
  - type: file
    id: other
    paths: ['C:\lw\logs2\*.log']
outputs:
  - type: file
    path: C:\lw\data2\out
    filename: events.ndjson
YAML
w 'C:\lw\logward.exe' check -c 'C:\lw\winlog.yml' | grep -q "OK" || fail "check refuses the winlog config on Windows"
wine 'C:\lw\logward.exe' run -c 'C:\lw\winlog.yml' </dev/null >"$work/winlog-run.log" 2>&1 &
agent=$!
n=0
for _ in $(seq 1 30); do
  n=$(lines "$work/data2/out/events.ndjson")
  [ "$n" -ge 50 ] && grep -q "retry_in=2s" "$work/winlog-run.log" && break
  sleep 1
done
kill "$agent" 2>/dev/null || true
wait "$agent" 2>/dev/null || true
tr -d '\r' <"$work/winlog-run.log" | grep "channel=Application" | head -2
[ "$n" -eq 50 ] || fail "the file input beside winlog delivered $n of 50 lines"
grep -q "cannot subscribe, retrying: subscribing to channel Application failed (Windows error" "$work/winlog-run.log" || fail "no clear subscription error: $(cat "$work/winlog-run.log")"
grep -q "retry_in=2s" "$work/winlog-run.log" || fail "the subscription is not retried with a growing pause"
echo "wine-service-test: 2 passed, 0 failed (service: install, sc query, net start, 500 events, reload -> 600 events, net stop -> STOPPED exit 0, registry at $size bytes, uninstall; winlog: clear error and retries while the file input delivers 50 lines)"
