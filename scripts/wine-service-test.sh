#!/usr/bin/env bash
# The Windows service life cycle under Wine: install -> sc query -> net start -> events written from a tailed
# file -> net stop -> Stopped with exit code 0, checkpoints saved -> uninstall.
# Needs: the x86_64-pc-windows-gnu target, mingw (x86_64-w64-mingw32-gcc), wine; ../shared/tools/wine beside
# the repository (the bcryptprimitives shim Wine 8 needs for Rust's std).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
shim_src="$repo/../shared/tools/wine/bcryptprimitives-shim.c"
for tool in wine wineserver x86_64-w64-mingw32-gcc; do
  command -v "$tool" >/dev/null || { echo "wine-service-test: SKIPPED: $tool is not installed"; exit 0; }
done
[ -f "$shim_src" ] || { echo "wine-service-test: SKIPPED: $shim_src is missing"; exit 0; }

fail() { echo "wine-service-test: FAILED: $*" >&2; [ -n "${WINEPREFIX:-}" ] && wineserver -k >/dev/null 2>&1 || true; exit 1; }

cargo build --locked --target x86_64-pc-windows-gnu >/dev/null 2>&1 || cargo build --locked --target x86_64-pc-windows-gnu
exe="$repo/target/x86_64-pc-windows-gnu/debug/logward.exe"
[ -f "$exe" ] || fail "no Windows build at $exe"

export WINEPREFIX; WINEPREFIX=$(mktemp -d /tmp/logward-wine.XXXXXX)
export WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
trap 'wineserver -k >/dev/null 2>&1 || true; [ -n "${KEEP_PREFIX:-}" ] || rm -rf "$WINEPREFIX"' EXIT
wineboot -i </dev/null >/dev/null 2>&1 || true
x86_64-w64-mingw32-gcc -shared -O2 -o "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" "$shim_src" -ladvapi32
wineserver -p </dev/null >/dev/null 2>&1 &

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

w() { wine "$@" </dev/null 2>&1 | tr -d '\r' || true; }
echo "== install"
w 'C:\lw\logward.exe' service install -c 'C:\lw\logward.yml' --name logward --account LocalSystem --data-dir 'C:\lw\data' | tee /dev/stderr | grep -q "installed service" || fail "install"
echo "== sc query (installed)"
q=""
for _ in $(seq 1 10); do
  q=$(w sc query logward)
  echo "$q" | grep -q "SERVICE_NAME: logward" && break
  sleep 1
done
echo "$q"
echo "$q" | grep -q "STOPPED" || fail "sc query does not show the installed, stopped service"
echo "== net start"
w net start logward >/dev/null || true
state=""
for _ in $(seq 1 30); do
  state=$(w sc query logward)
  echo "$state" | grep -q "RUNNING" && break
  sleep 1
done
echo "$state" | grep -q "RUNNING" || fail "the service did not reach RUNNING: $state"
echo "== waiting for events"
for _ in $(seq 1 60); do
  n=$(cat "$work/data/out/events.ndjson" 2>/dev/null | wc -l)
  [ "$n" -ge 500 ] && break
  sleep 1
done
[ "$n" -eq 500 ] || fail "expected 500 events, found $n"
grep -q '"message":"wine service line 500"' "$work/data/out/events.ndjson" || fail "the last line is missing"
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
w 'C:\lw\logward.exe' service uninstall --name logward | tee /dev/stderr | grep -q "removed service" || fail "uninstall"
w sc query logward | grep -q "RUNNING\|STOPPED" && fail "the service is still registered"
echo "wine-service-test: 1 passed, 0 failed (install, sc query, net start, 500 events, net stop -> STOPPED exit 0, registry at $size bytes, uninstall)"
