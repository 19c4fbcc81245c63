#!/usr/bin/env bash
# The plan/apply benchmark of issue 16: on synthetic repositories of each size in SIZES
# (scripts/synth), against the embedded local stack (`evctl dev`: kfake with SASL/SCRAM and ACLs,
# file:// state and descriptor store), wall time and peak RSS (GNU time '%e %M') of
#
#   1. `evctl build -o evctl.binpb --no-cache` (the baseline: compiling every contract once);
#   2. `evctl apply --env local --auto-approve` from empty, on a fresh clone (no cache at all);
#   3. `evctl plan --env local --detailed-exitcode` with nothing changed (exit 0), REPS times;
#   4. the same after one event's description changed (exit 2: its descriptor is an update),
#      REPS times, a different event each time (each edit is undone, and planned once unmeasured,
#      before the next);
#   5. `evctl plan --refresh=full` with nothing changed, once (every resource read).
#
# Medians go to docs/benchmarks.md between the bench:plan markers (other sections are left
# alone), with the load average: the machine may be shared.
#
#   SIZES="1200 10000" REPS=3 scripts/bench-plan.sh      # defaults
#   EVCTL=/path/to/evctl scripts/bench-plan.sh
#
# BigQuery and Delta tables are left out of the local environment (their lines removed from the
# copy's evctl.yaml), as in bench-apply.sh: what is measured is the planner, the descriptor store
# and Kafka.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SIZES="${SIZES:-1200 10000}"
REPS="${REPS:-3}"
SEED="${SEED:-1}"
DOC="${BENCH_DOC:-$ROOT/docs/benchmarks.md}"
BENCH="${BENCH_DIR:-$ROOT/bench}"
TIME=/usr/bin/time

log() { echo "bench-plan: $*" >&2; }
# shellcheck source=scripts/benchlib.sh
. "$ROOT/scripts/benchlib.sh"

command -v python3 >/dev/null || { log "python3 is needed (free ports)"; exit 1; }
need_gnu_time
need_evctl
# A changed prod contract is checked for breaking changes with buf (SPEC 5), part of a plan's cost.
need_buf
export EVCTL_BUF="$BUF"

DEV=""
stop_dev() {
  if [ -n "$DEV" ]; then kill "$DEV" 2>/dev/null || true; wait "$DEV" 2>/dev/null || true; DEV=""; fi
}
trap stop_dev EXIT

# stack DIR REPO: a copy of REPO in DIR with its own free ports, `evctl dev` running in it (pid in
# DEV) and its variables exported; the working directory is DIR.
stack() { dev_stack "$1" "$2" 10h 300; }

# measure FILE NAME WANT_EXIT CMD...: appends "name wall_s peak_rss_kb" to FILE; the command must
# exit WANT_EXIT.
measure() {
  local file=$1 name=$2 want=$3; shift 3
  local rc=0
  "$TIME" -o time.out -f '%e %M' "$@" > cmd.out 2> cmd.err || rc=$?
  # GNU time adds "Command exited with non-zero status N" before its line.
  if [ "$rc" != "$want" ] && [ "$want" != any ]; then tail -n 20 cmd.out cmd.err >&2; log "$name exited $rc, want $want"; exit 1; fi
  echo "$name $(tail -1 time.out)" >> "$file"
  LAST_RC=$rc
}

# edit_description FILE: changes the description of the event's first field (a comment in its
# descriptor set, which changes; nothing else does).
edit_description() { sed -i '0,/, description: "/s//, description: "Edited for the benchmark. /' "$1"; }

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
ROWS=""
ALL=""
for N in $SIZES; do
  WORK="$BENCH/plan-$N"
  mkdir -p "$WORK"
  REPO="$WORK/repo"
  if [ ! -f "$REPO/.synth-$N-$SEED" ]; then
    rm -rf "$REPO"
    log "generating $N events into $REPO"
    go run ./scripts/synth -n "$N" -seed "$SEED" -out "$REPO" >&2
    touch "$REPO/.synth-$N-$SEED"
  fi
  RES="$WORK/results.txt"
  : > "$RES"
  log "$N events: apply from empty on a fresh stack"
  stack "$WORK/stack" "$REPO"
  measure "$RES" build 0 "$EVCTL" build -o evctl.binpb --no-cache
  measure "$RES" apply any "$EVCTL" apply --env local --auto-approve
  RESOURCES=$(tail -1 cmd.out | sed -n 's/.*: \([0-9]*\) ok.*/\1/p')
  APPLY_NOTE=""
  if [ "$LAST_RC" != 0 ]; then
    # Recorded as measured, and said so; the plans below need an applied environment.
    APPLY_NOTE="$N events: apply from empty exited $LAST_RC ($(tail -1 cmd.out)); --retry-failed finished it. "
    log "$APPLY_NOTE"
    "$EVCTL" apply --env local --auto-approve --retry-failed > retry.out 2>&1 || { tail -n 20 retry.out >&2; log "apply --retry-failed failed"; exit 1; }
  fi
  NOTES="${NOTES:-}$APPLY_NOTE"
  log "$N events: plan with nothing changed, $REPS times"
  for r in $(seq 1 "$REPS"); do
    measure "$RES" plan-nochange 0 "$EVCTL" plan --env local --detailed-exitcode
  done
  log "$N events: plan after one event changed, $REPS times"
  # Events of the form path (fields in the YAML), whose fields have descriptions.
  mapfile -t FILES < <(grep -l '^  fields:' $(find contracts -name '*.yaml' | sort) | head -"$REPS")
  for f in "${FILES[@]}"; do
    cp "$f" "$WORK/orig.yaml" # outside the repository, as an editor's undo is
    edit_description "$f"
    measure "$RES" plan-onechange 2 "$EVCTL" plan --env local --detailed-exitcode
    cp "$WORK/orig.yaml" "$f"
    "$EVCTL" plan --env local --detailed-exitcode > /dev/null 2>&1 || true
  done
  measure "$RES" plan-full 0 "$EVCTL" plan --env local --detailed-exitcode --refresh=full
  stop_dev
  cd "$ROOT"
  # median NAME COLUMN (2 wall, 3 rss kB)
  median() {
    awk -v n="$1" -v c="$2" '$1 == n { print $c }' "$RES" | sort -g |
      awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
  }
  mb() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }
  ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
  BU=$(median build 2)
  for name in build apply plan-nochange plan-onechange plan-full; do
    T=$(median "$name" 2); M=$(median "$name" 3)
    case $name in
      build) what="\`evctl build -o evctl.binpb --no-cache\` (baseline)"; goal="" ;;
      apply) what="\`evctl apply --auto-approve\` from empty ($RESOURCES resources, no cache)"; goal="≤ 40 s, ≤ 1 GB" ;;
      plan-nochange) what="\`evctl plan --detailed-exitcode\`, nothing changed"; goal="≤ 3 s, ≤ 1 GB" ;;
      plan-onechange) what="\`evctl plan --detailed-exitcode\`, one event changed"; goal="≤ 3 s, ≤ 1 GB" ;;
      plan-full) what="\`evctl plan --refresh=full\`, nothing changed"; goal="≤ 1 GB" ;;
    esac
    ROWS="$ROWS| $N | $what | $T s | $(mb "$M") MB | $(ratio "$T" "$BU")× | $goal |
"
  done
  ALL="$ALL
# $N events
$(cat "$RES")"
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

MODEL=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
EVCTL_REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$ROOT" diff --quiet HEAD -- 2>/dev/null || EVCTL_REV="$EVCTL_REV+dirty"
SECTION=$(cat <<EOF
<!-- bench:plan:start -->
## Plan and apply at 1,200 and 10,000 events: cost grows with what changed

Generated by \`scripts/bench-plan.sh\` on $(date -u +%Y-%m-%d) at $(date -u +%H:%M) UTC. Do not edit by hand.

- Machine: $(nproc) CPUs, ${MODEL:-unknown}, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, $(uname -sr);
  load average ${LOAD_BEFORE} before, ${LOAD_AFTER} after (a shared machine is noisy: read
  the ratios to \`evctl build --no-cache\` of the same run).
- evctl ${EVCTL_REV} ($(go env GOVERSION)). Repositories: \`go run ./scripts/synth -n N -seed $SEED\`.
  Local stack: \`evctl dev\` (kfake with SASL/SCRAM and ACLs, in its own process, over loopback),
  state and descriptor store on file://; BigQuery and Delta tables removed from the local
  environment. Wall time and peak RSS from GNU time; plans are medians of ${REPS} runs.
- Apply runs on a fresh copy (no lint or plan cache: what CI sees on a fresh clone). The plans
  then run with the caches that apply left: \`evctl plan\` reads what changed since the last
  apply plus one listing per kind (\`--refresh=fast\`, the default; README "Choices"), and
  \`--refresh=full\` reads every resource, as every plan did before.
- "One event changed": the description of one event's first field edited (a comment in its
  descriptor set, which changes: an update, exit 2; a prod event's is checked with buf for
  breaking changes, as every plan does); a different event each run, the edit undone before the
  next. A prod event's change is checked for breaking changes by buf (a separate process; GNU
  time's peak RSS is the largest process of the tree, which may be buf's).

${NOTES:-}

| events | command | wall time | peak RSS | / build | goal (issue 16) |
|---:|---|---:|---:|---:|---|
${ROWS}
Every measurement (name, wall s, peak RSS kB):

\`\`\`
${ALL}
\`\`\`
<!-- bench:plan:end -->
EOF
)
write_section "$DOC" plan "$SECTION"
printf '%s\n' "$SECTION" | sed -n '/^| events/,/^Every measurement/p' >&2
log "wrote $DOC"
