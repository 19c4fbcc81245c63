#!/usr/bin/env bash
# The apply benchmark of issue 3, on a synthetic contracts repository of N events (scripts/synth)
# against the embedded local stack (`evctl dev`: kfake with SASL/SCRAM and ACLs, file:// state and
# descriptor store as the synthetic evctl.yaml names them):
#
#   1. `evctl apply --auto-approve --parallelism 1` (one resource at a time: the baseline) on one
#      fresh stack, and `evctl apply --auto-approve` (batched) on another, REPS times each,
#      alternating which goes first;
#   2. on the applied stack, `evctl plan` (nothing to change) against `evctl build` alone,
#      PLAN_REPS times, interleaved.
#
# Wall and CPU time of each evctl command come from GNU time; the stack's own CPU from /proc;
# the apply phase (lock to audit record, without compiling and planning) from the audit record's
# started and time. Medians and ratios go to docs/benchmarks.md between the bench:apply markers
# (other sections are left alone).
#
#   N=1200 REPS=1 PLAN_REPS=3 scripts/bench-apply.sh      # defaults
#   EVCTL=/path/to/evctl scripts/bench-apply.sh
#
# BigQuery and Delta tables are left out of the local environment here (their lines are removed
# from the copy's evctl.yaml), as in BenchmarkApply: what is measured is the engine, the
# descriptor store and Kafka.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
N="${N:-1200}"
REPS="${REPS:-1}"
PLAN_REPS="${PLAN_REPS:-3}"
SEED="${SEED:-1}"
DOC="${BENCH_DOC:-$ROOT/docs/benchmarks.md}"
WORK="${BENCH_DIR:-$ROOT/bench}/apply-$N"
TIME=/usr/bin/time

log() { echo "bench-apply: $*" >&2; }
# shellcheck source=scripts/benchlib.sh
. "$ROOT/scripts/benchlib.sh"
# cpu PID: user+sys seconds the process has used so far.
cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"; }

command -v python3 >/dev/null || { log "python3 is needed (free ports, audit records)"; exit 1; }
need_gnu_time
need_evctl

rm -rf "$WORK" && mkdir -p "$WORK"
REPO="$WORK/repo"
log "generating $N events into $REPO"
SYNTH_INFO=$(go run ./scripts/synth -n "$N" -seed "$SEED" -out "$REPO" 2>&1)
log "$SYNTH_INFO"

DEV=""
stop_dev() {
  if [ -n "$DEV" ]; then kill "$DEV" 2>/dev/null || true; wait "$DEV" 2>/dev/null || true; DEV=""; fi
}
trap stop_dev EXIT

# stack DIR: a copy of the repository in DIR with its own free ports, `evctl dev` running in it
# (pid in DEV) and its variables exported.
stack() { dev_stack "$1" "$REPO" 10h 30; }

# apply_seconds: the last audit record's time minus its start, in seconds.
apply_seconds() {
  python3 - .evctl/state/local/audit <<'PY'
import glob, json, sys
from datetime import datetime
def t(s):
    s = s.rstrip("Z")
    if "." in s:
        a, b = s.split(".", 1)
        s = a + "." + b[:6]
    return datetime.fromisoformat(s)
rec = json.load(open(sorted(glob.glob(sys.argv[1] + "/*.json"))[-1]))
print("%.2f" % (t(rec["time"]) - t(rec["started"])).total_seconds())
PY
}

: > "$WORK/results.txt"
# measure NAME CMD...: appends "name wall_s cpu_s stack_cpu_s" to results.txt; the command
# must exit 0.
measure() {
  local name=$1; shift
  local before after
  before=$(cpu "$DEV")
  "$TIME" -o time.out -f '%e %U %S' "$@" > cmd.out 2> cmd.err || { tail -20 cmd.out cmd.err >&2; log "$name failed"; exit 1; }
  after=$(cpu "$DEV")
  awk -v n="$name" -v s="$(awk -v a="$before" -v b="$after" 'BEGIN { printf "%.2f", b - a }')" \
    '{ printf "%s %s %.2f %s\n", n, $1, $2 + $3, s }' time.out >> "$WORK/results.txt"
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
run_apply() { # MODE(p1|batched) REP
  local mode=$1 r=$2 flags=()
  [ "$mode" = p1 ] && flags=(--parallelism 1)
  log "apply $mode ($r/$REPS) on a fresh stack"
  stack "$WORK/$mode-$r"
  measure "apply-$mode" "$EVCTL" apply --env local --auto-approve "${flags[@]}"
  tail -1 cmd.out >&2
  echo "phase-$mode $(apply_seconds) 0 0" >> "$WORK/results.txt"
  RESOURCES=$(tail -1 cmd.out | sed -n 's/.*: \([0-9]*\) ok.*/\1/p')
}
for r in $(seq 1 "$REPS"); do
  # Alternate which goes first; the last repetition ends with the batched stack, kept running
  # for the plan comparison.
  if [ $(((REPS - r) % 2)) = 0 ]; then
    run_apply p1 "$r"; stop_dev; cd "$ROOT"; run_apply batched "$r"
  else
    run_apply batched "$r"; stop_dev; cd "$ROOT"; run_apply p1 "$r"; stop_dev; cd "$ROOT"
  fi
done

log "plan (no changes) vs build, $PLAN_REPS times"
# evctl build keeps the set it built under .evctl/cache and, for the same inputs, compiles
# nothing the next time; plan always compiles. The comparison is of the same work: compiling.
build_cmd=("$EVCTL" build -o evctl.binpb)
if "$EVCTL" build --help 2>&1 | grep -q -- --no-cache; then build_cmd+=(--no-cache); fi
"$EVCTL" plan --env local --detailed-exitcode > plan.out || { tail plan.out >&2; log "plan after apply is not empty"; exit 1; }
for r in $(seq 1 "$PLAN_REPS"); do
  if [ $((r % 2)) = 1 ]; then
    measure plan "$EVCTL" plan --env local --detailed-exitcode; measure build "${build_cmd[@]}"
  else
    measure build "${build_cmd[@]}"; measure plan "$EVCTL" plan --env local --detailed-exitcode
  fi
done
# For the record: build with its compile cache warm (it then compiles nothing).
"$EVCTL" build -o evctl.binpb >/dev/null 2>&1
measure build-cached "$EVCTL" build -o evctl.binpb
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
stop_dev
cd "$WORK"

# median NAME COLUMN (2 wall, 3 cpu, 4 stack cpu)
median() {
  awk -v n="$1" -v c="$2" '$1 == n { print $c }' results.txt | sort -g |
    awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }
P1_T=$(median apply-p1 2); P1_C=$(median apply-p1 3); P1_S=$(median apply-p1 4); P1_P=$(median phase-p1 2)
B_T=$(median apply-batched 2); B_C=$(median apply-batched 3); B_S=$(median apply-batched 4); B_P=$(median phase-batched 2)
PL_T=$(median plan 2); PL_C=$(median plan 3); PL_S=$(median plan 4)
BU_T=$(median build 2); BU_C=$(median build 3); BC_T=$(median build-cached 2)
PHASE_RATIO=$(ratio "$P1_P" "$B_P"); CMD_RATIO=$(ratio "$P1_T" "$B_T")
PLAN_RATIO=$(awk -v a="$PL_T" -v b="$BU_T" 'BEGIN { printf "%.2f", a / b }')
verdict() { awk -v r="$1" -v g="$2" -v dir="$3" 'BEGIN { ok = (dir == "min" ? r >= g : r <= g); print (ok ? "met" : "not met") }'; }
MODEL=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
EVCTL_REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$ROOT" diff --quiet HEAD -- 2>/dev/null || EVCTL_REV="$EVCTL_REV+dirty"

SECTION=$(cat <<EOF
<!-- bench:apply:start -->
## Apply: batched vs one resource at a time; no-change plan vs build

Generated by \`scripts/bench-apply.sh\` on $(date -u +%Y-%m-%d) at $(date -u +%H:%M) UTC. Do not edit by hand.

- Machine: $(nproc) CPUs, ${MODEL:-unknown}, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, $(uname -sr);
  load average ${LOAD_BEFORE} before, ${LOAD_AFTER} after.
- evctl ${EVCTL_REV} ($(go env GOVERSION)). Repository: \`go run ./scripts/synth -n $N -seed $SEED\`
  ($N events, ${RESOURCES:-?} resources applied: a descriptor, a topic and an ACL set per event, a
  user per team). Local stack: \`evctl dev\` (kfake with SASL/SCRAM and ACLs, in its own process,
  over loopback), state and descriptor store on file:// as the synthetic evctl.yaml has them
  (fsync'd); BigQuery and Delta tables removed from the local environment.
- Each apply runs on a fresh stack, from empty; ${REPS} run(s) each, medians. "Apply phase" is the
  audit record's \`time - started\`: the engine's work (lock, state, descriptors, Kafka), without
  compiling and planning, which both commands do alike. CPU is user+sys of the evctl command;
  the stack's CPU is what \`evctl dev\` used meanwhile.
- Then, on the applied stack, \`evctl plan --env local --detailed-exitcode\` (exit 0: nothing to
  change) and \`evctl ${build_cmd[*]:1}\`, ${PLAN_REPS} times each, interleaved, medians.
  \`--no-cache\` makes build compile, as plan does: with its cache warm, \`evctl build\` took
  ${BC_T:-?} s, compiling nothing.

| command | wall time | CPU (evctl) | CPU (stack) | apply phase |
|---|---:|---:|---:|---:|
| \`evctl apply --auto-approve --parallelism 1\` (baseline) | ${P1_T} s | ${P1_C} s | ${P1_S} s | ${P1_P} s |
| \`evctl apply --auto-approve\` | ${B_T} s | ${B_C} s | ${B_S} s | ${B_P} s |
| **baseline / batched** | **${CMD_RATIO}×** | | | **${PHASE_RATIO}×** |
| \`evctl plan\` (no changes) | ${PL_T} s | ${PL_C} s | ${PL_S} s | |
| \`evctl ${build_cmd[*]:1}\` | ${BU_T} s | ${BU_C} s | | |
| **plan / build** | **${PLAN_RATIO}×** | | | |

Goals (issue 3): apply at least 10× faster than one resource at a time: apply phase
$(verdict "$PHASE_RATIO" 10 min) (${PHASE_RATIO}×); whole command, compile and plan included,
${CMD_RATIO}×. A no-change plan at most 1.5× \`evctl build\` (compiling): $(verdict "$PLAN_RATIO" 1.5 max) (${PLAN_RATIO}×).

Where the apply phase goes. One at a time, each descriptor writes its set and rewrites
index.json (which grows to $N entries), each fsync'd, and each topic, ACL set and user is one admin
request to the broker: the stack's CPU above is the broker answering them. Batched, descriptors and
team users go in the first wave (sets written concurrently, those already stored skipped after one
listing, then one compare-and-swap of index.json), topics in the second (one CreateTopics), ACLs in
the third (one CreateACLs); each wave writes state twice (intent before, results after) with
compare-and-swap. What remains is mostly writing the sets (about 80 KB each, imports included, every
one fsync'd). The whole-command ratio is lower because both commands first compile and plan (about
$(awk -v a="$B_T" -v b="$B_P" 'BEGIN { printf "%.1f", a - b }') s here), which is the same work.

Every measurement (name, wall s, evctl CPU s, stack CPU s; phase-*: apply phase s):

\`\`\`
$(cat results.txt)
\`\`\`
<!-- bench:apply:end -->
EOF
)

cd "$ROOT"
write_section "$DOC" apply "$SECTION"
printf '%s\n' "$SECTION" | sed -n '/^| command/,/^Every measurement/p' >&2
log "wrote $DOC"
