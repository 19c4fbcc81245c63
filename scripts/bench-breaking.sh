#!/usr/bin/env bash
# The breaking-change benchmark of issue 6: on a synthetic contracts repository of N events in
# git, one prod event changed in a breaking way (its last int64 field becomes a string) and
# committed, then, interleaved, REPS times each under GNU time:
#
#   evctl breaking --against HEAD~1          (exit 1: one breaking change found)
#   buf breaking buf-src --against '.git#ref=HEAD~1,subdir=buf-src' --error-format json
#                                            (exit 100; buf-src holds the same effective protos)
#
# Medians and ratios go to docs/benchmarks.md between the bench:breaking markers.
#
#   N=1200 REPS=5 scripts/bench-breaking.sh      # defaults
#   EVCTL=/path/to/evctl BUF=/path/to/buf scripts/bench-breaking.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
N="${N:-1200}"
REPS="${REPS:-5}"
SEED="${SEED:-1}"
DOC="${BENCH_DOC:-$ROOT/docs/benchmarks.md}"
WORK="${BENCH_DIR:-$ROOT/bench}"
TIME=/usr/bin/time

log() { echo "bench-breaking: $*" >&2; }
# shellcheck source=scripts/benchlib.sh
. "$ROOT/scripts/benchlib.sh"

command -v python3 >/dev/null || { log "python3 is needed (editing the contract)"; exit 1; }
need_gnu_time
need_evctl
need_buf
export EVCTL_BUF="$BUF" # evctl runs the same buf

REPO="$WORK/breaking-$N"
rm -rf "$REPO"
mkdir -p "$WORK"
log "generating $N events into $REPO"
SYNTH_INFO=$(go run ./scripts/synth -n "$N" -seed "$SEED" -out "$REPO" 2>&1)
log "$SYNTH_INFO"
cd "$REPO"
# buf's own settings for the same category evctl checks by default.
printf 'version: v2\nbreaking:\n  use: [WIRE_JSON]\n' > buf-src/buf.yaml
"$EVCTL" generate >/dev/null 2>gen.log || { cat gen.log >&2; log "evctl generate failed"; exit 1; }

git() { command git -c user.name=bench -c user.email=bench@example.invalid -c commit.gpgsign=false "$@"; }
git init -q -b main .
printf 'gen.log\nresults.txt\ntime.out\ncmd.*\n' > .gitignore
git add -A
git commit -q -m base

# One breaking change: the last int64 field of the first prod form-path contract becomes a string.
CHANGED=$(python3 - <<'EOF'
import pathlib
for p in sorted(pathlib.Path("contracts").rglob("*.yaml")):
    s = p.read_text()
    if "stage: prod" in s and "proto:" not in s and "type: int64" in s:
        i = s.rindex("type: int64")
        p.write_text(s[:i] + "type: string" + s[i + len("type: int64"):])
        print(p)
        break
EOF
)
[ -n "$CHANGED" ] || { log "no prod form-path contract with an int64 field"; exit 1; }
"$EVCTL" generate >/dev/null 2>gen.log || { cat gen.log >&2; log "evctl generate failed"; exit 1; }
cp -R gen/proto/. buf-src/
git add -A
git commit -q -m "change one event"
log "changed $CHANGED ($(git diff --name-only HEAD~1 | wc -l) files)"

evctl_cmd=("$EVCTL" breaking --against HEAD~1 -o json)
buf_cmd=("$BUF" breaking buf-src --against '.git#ref=HEAD~1,subdir=buf-src' --error-format json)

# Both must find the change, or the timing means nothing.
set +e
"${evctl_cmd[@]}" >cmd.evctl 2>cmd.err; rc=$?
set -e
[ "$rc" -eq 1 ] || { cat cmd.err cmd.evctl >&2; log "evctl breaking exited $rc, want 1"; exit 1; }
EVCTL_FINDINGS=$(python3 -c 'import json; print(" ".join(f["rule"] for f in json.load(open("cmd.evctl"))["findings"]))')
[ "$EVCTL_FINDINGS" = FIELD_WIRE_JSON_COMPATIBLE_TYPE ] || { cat cmd.evctl >&2; log "evctl breaking found [$EVCTL_FINDINGS], want one FIELD_WIRE_JSON_COMPATIBLE_TYPE"; exit 1; }
set +e
"${buf_cmd[@]}" >cmd.buf 2>cmd.err; rc=$?
set -e
[ "$rc" -eq 100 ] || { cat cmd.err cmd.buf >&2; log "buf breaking exited $rc, want 100"; exit 1; }
BUF_FINDINGS=$(grep -c . cmd.buf)

# measure NAME WANT_EXIT CMD...: appends "name wall_s rss_kb cpu_s" to results.txt.
measure() {
  local name=$1 want=$2; shift 2
  local rc=0
  "$TIME" -o time.out -f '%e %M %U %S' "$@" >/dev/null 2>cmd.err || rc=$?
  [ "$rc" -eq "$want" ] || { cat cmd.err >&2; log "$name exited $rc, want $want"; exit 1; }
  # On a non-zero exit GNU time first writes "Command exited with non-zero status N": the
  # measurement is the last line.
  tail -n 1 time.out | awk -v n="$name" 'NF == 4 && $1 ~ /^[0-9.]+$/ { printf "%s %s %s %.2f\n", n, $1, $2, $3 + $4; ok = 1 }
    END { exit !ok }' >> results.txt || { cat time.out >&2; log "$name: no measurement in time.out"; exit 1; }
}
log "warm-up"
: > results.txt
measure warm 1 "${evctl_cmd[@]}"; measure warm 100 "${buf_cmd[@]}"
: > results.txt
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for r in $(seq 1 "$REPS"); do
  log "repetition $r/$REPS"
  if [ $((r % 2)) -eq 1 ]; then
    measure evctl 1 "${evctl_cmd[@]}"; measure buf 100 "${buf_cmd[@]}"
  else
    measure buf 100 "${buf_cmd[@]}"; measure evctl 1 "${evctl_cmd[@]}"
  fi
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# median NAME COLUMN (2 wall, 3 rss, 4 cpu)
median() {
  awk -v n="$1" -v c="$2" '$1 == n { print $c }' results.txt | sort -g |
    awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
mb() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }
verdict() { awk -v r="$1" 'BEGIN { print (r <= 0.25 ? "met" : "not met") }'; }
EV_T=$(median evctl 2); EV_M=$(median evctl 3); EV_C=$(median evctl 4)
BUF_T=$(median buf 2); BUF_M=$(median buf 3); BUF_C=$(median buf 4)
T_RATIO=$(ratio "$EV_T" "$BUF_T"); M_RATIO=$(ratio "$EV_M" "$BUF_M"); C_RATIO=$(ratio "$EV_C" "$BUF_C")

MODEL=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
EVCTL_REV=$(command git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
command git -C "$ROOT" diff --quiet HEAD -- 2>/dev/null || EVCTL_REV="$EVCTL_REV+dirty"
BUF_VER=$("$BUF" --version 2>&1)
SYNTH_DESC=$(printf '%s' "${SYNTH_INFO#*: }" | sed 's| in /[^;]*;|;|')
SECTION=$(cat <<EOF
<!-- bench:breaking:start -->
## Breaking: evctl breaking vs buf breaking, one event changed (issue 6)

Generated by \`make bench\` (scripts/bench-breaking.sh) on $(date -u +%Y-%m-%d) at $(date -u +%H:%M) UTC. Do not edit by hand.

- Machine: $(nproc) CPUs, ${MODEL}; load average ${LOAD_BEFORE} before, ${LOAD_AFTER} after.
- Versions: evctl ${EVCTL_REV} ($(go version | awk '{ print $3 }')), buf ${BUF_VER}.
- Repository: \`go run ./scripts/synth -n $N -seed $SEED\` in git (${SYNTH_DESC}); a second
  commit changes the last int64 field of \`${CHANGED}\` (a prod event) to a string, one breaking
  change, and the same change in buf's copy of the effective protos (\`buf-src/\`, WIRE_JSON).
- Commands, in the repository, interleaved, ${REPS} repetitions after a warm-up, medians; wall time
  and peak RSS from \`/usr/bin/time -f '%e %M %U %S'\`:
  - \`evctl breaking --against HEAD~1 -o json\` (exit 1; its finding: ${EVCTL_FINDINGS} on the changed field)
  - \`buf breaking buf-src --against '.git#ref=HEAD~1,subdir=buf-src' --error-format json\` (exit 100; ${BUF_FINDINGS} finding(s))

| command | wall time | peak RSS | CPU (user+sys) |
|---|---:|---:|---:|
| \`evctl breaking\` | ${EV_T} s | $(mb "$EV_M") MB | ${EV_C} s |
| \`buf breaking\` | ${BUF_T} s | $(mb "$BUF_M") MB | ${BUF_C} s |
| **ratio evctl / buf** | **${T_RATIO}×** | **${M_RATIO}×** | ${C_RATIO}× |

Goal (issue 6): at most 0.25× buf breaking's time and memory. Time: $(verdict "$T_RATIO") (${T_RATIO}×).
Memory: $(verdict "$M_RATIO") (${M_RATIO}×).

Why: evctl compiles only the prod events whose content hash changed, on both sides (the baseline
from git objects, no checkout), and hands buf images of those alone; buf compiles and compares
every proto of both trees.

Every measurement (name, wall s, peak RSS KiB, CPU s):

\`\`\`
$(cat results.txt)
\`\`\`
<!-- bench:breaking:end -->
EOF
)

cd "$ROOT"
write_section "$DOC" breaking "$SECTION" apply
printf '%s\n' "$SECTION" | sed -n '/^| command/,/^Memory:/p'
log "wrote $DOC"
