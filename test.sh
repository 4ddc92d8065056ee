#!/usr/bin/env bash
# The test command: installs what a fresh Debian machine lacks, runs every test, prints "N passed, N failed[, N skipped]".
set -uo pipefail
cd "$(dirname "$0")"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
pgbin="$(pg_config --bindir 2>/dev/null || true)"
[ -x "$pgbin/initdb" ] || [ -x /usr/lib/postgresql/15/bin/initdb ] || missing+=(postgresql-15)
command -v pgbouncer >/dev/null || missing+=(pgbouncer)
command -v promtool >/dev/null || missing+=(prometheus)
command -v chromium >/dev/null || missing+=(chromium)
command -v node >/dev/null || missing+=(nodejs npm)
# recordings: a real S3 server (Ceph RADOS Gateway over one monitor and one OSD), opus-tools to validate the served files
command -v radosgw >/dev/null || missing+=(radosgw)
command -v ceph-mon >/dev/null || missing+=(ceph-mon)
command -v ceph-osd >/dev/null || missing+=(ceph-osd)
command -v opusinfo >/dev/null || missing+=(opus-tools)
# libopus for the recorder's encoder: Concentus loads it as "libopus.so", the link libopus-dev adds next to libopus0's
# libopus.so.0 (without it the recorder falls back to Concentus' managed codec, ~4x the CPU: BENCHMARKS.md #15).
compgen -G '/usr/lib/*/libopus.so' >/dev/null || [ -e /usr/lib/libopus.so ] || missing+=(libopus-dev)
# Speech for the transcription tests (flite speaks, sox resamples) and the offline recognizer with its US English model.
command -v pocketsphinx_continuous >/dev/null || missing+=(pocketsphinx)
[ -d /usr/share/pocketsphinx/model/en-us ] || missing+=(pocketsphinx-en-us)
command -v flite >/dev/null || missing+=(flite)
command -v sox >/dev/null || missing+=(sox)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  # Debian's packages start their daemons on install (prometheus, postgresql, redis, pgbouncer); the tests start their own
  # processes on their own ports and stop only those. A policy-rc.d that answers 101 ("action forbidden") keeps invoke-rc.d
  # and deb-systemd-invoke from starting anything; a policy the machine already has is left as it is.
  policy=/usr/sbin/policy-rc.d
  own_policy=false
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null && as_root chmod 755 "$policy" && own_policy=true
    trap '$own_policy && as_root rm -f "$policy"' EXIT # also when the install fails or is interrupted
  fi
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  $own_policy && as_root rm -f "$policy" && own_policy=false
  # Nor at the next boot: the services of the packages this run installed stay disabled.
  if command -v systemctl >/dev/null; then
    for pkg in "${missing[@]}"; do
      case "$pkg" in prometheus|redis-server|pgbouncer|postgresql-*|radosgw|ceph-mon|ceph-osd) as_root systemctl disable --quiet "${pkg%%-[0-9]*}" 2>/dev/null || true ;; esac
    done
  fi
fi

if [ -f tests/tools/package.json ]; then
  (cd tests/tools && if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --silent; else npm install --no-audit --no-fund --silent; fi) || { echo "npm install failed"; echo "0 passed, 1 failed"; exit 1; }
fi

# The media plane's Node packages (stand-in SFU, rtc-node bridge): the silo starts the SFU from src/media.
if [ -f src/media/package-lock.json ]; then
  (cd src/media && npm ci --no-audit --no-fund --silent) || { echo "npm ci in src/media failed"; echo "0 passed, 1 failed"; exit 1; }
fi

results="TestResults/run-$(date +%s)"
rm -rf TestResults && mkdir -p "$results"
dotnet build VoiceActors.sln -c Release -warnaserror -nologo -v quiet || { echo "0 passed, 1 failed"; exit 1; }
# A hung test must fail the run (and name itself) long before CI's 90-minute cut-off.
dotnet test VoiceActors.sln -c Release --no-build --logger "trx" --results-directory "$results" \
  --blame-hang --blame-hang-timeout 8m --blame-hang-dump-type none "$@" 2>&1 | tee "$results.log"
status=${PIPESTATUS[0]}

passed=0; failed=0; skipped=0
for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  line=$(grep -o '<Counters [^>]*' "$trx" | head -1)
  get() { echo "$line" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]*'; }
  passed=$((passed + $(get passed)))
  failed=$((failed + $(get failed) + $(get error) + $(get timeout) + $(get aborted)))
  skipped=$((skipped + $(get notExecuted)))
done
# A test host killed for a hang (or crashed) leaves its running test unreported: count it.
if grep -qs 'Test Run Aborted' "$results.log" || { [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; }; then failed=$((failed + 1)); fi
summary="$passed passed, $failed failed"
[ "$skipped" -gt 0 ] && summary="$summary, $skipped skipped"
echo "$summary"
[ "$failed" -eq 0 ] && [ "$status" -eq 0 ]
