#!/usr/bin/env bash
# `make bench`: evctl lint + evctl build against buf build of the same protos, side by side in one
# run, on a synthetic contracts repository of N events (scripts/synth). Each command runs REPS
# times, interleaved, under GNU time; the medians and the ratios go to docs/benchmarks.md between
# the bench:contracts markers (other sections are left alone).
#
#   N=1200 REPS=5 scripts/bench.sh        # defaults
#   EVCTL=/path/to/evctl BUF=/path/to/buf scripts/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
N="${N:-1200}"
REPS="${REPS:-5}"
SEED="${SEED:-1}"
DOC="${BENCH_DOC:-$ROOT/docs/benchmarks.md}"
WORK="${BENCH_DIR:-$ROOT/bench}"
TIME=/usr/bin/time

log() { echo "bench: $*" >&2; }
# shellcheck source=scripts/benchlib.sh
. "$ROOT/scripts/benchlib.sh"

need_gnu_time
need_evctl
need_buf

REPO="$WORK/synth-$N"
rm -rf "$REPO"
mkdir -p "$WORK"
log "generating $N events into $REPO"
SYNTH_INFO=$(go run ./scripts/synth -n "$N" -seed "$SEED" -out "$REPO" 2>&1)
log "$SYNTH_INFO"
cd "$REPO"

# The repository must be clean and gen/ fresh, or lint would measure an error path.
"$EVCTL" generate >gen.out 2>gen.log || { cat gen.log >&2; log "evctl generate failed"; exit 1; }
if [ -s gen.out ]; then head gen.out >&2; log "evctl generate rewrote files: synth's gen/ was not fresh"; exit 1; fi
"$EVCTL" lint >/dev/null 2>&1 || { "$EVCTL" lint | head -20 >&2; log "evctl lint has findings on the synthetic repo"; exit 1; }

# measure NAME CMD...: appends "name wall_s rss_kb cpu_s" to results.txt.
measure() {
  local name=$1; shift
  "$TIME" -o time.out -f '%e %M %U %S' "$@" >/dev/null 2>cmd.err || { cat cmd.err >&2; log "$name failed"; exit 1; }
  awk -v n="$name" '{ printf "%s %s %s %.2f\n", n, $1, $2, $3 + $4 }' time.out >> results.txt
}
# Two ways to run evctl lint then evctl build, each against buf build:
# - on a fresh checkout (.evctl/cache empty, as in CI): lint, when clean, leaves the descriptor
#   set in build's cache, so the two compile once, as buf build does; this is the goal's measure;
# - each with --no-cache: both commands do their whole pipeline, so the contracts are compiled
#   twice.
# The cache-hit rows show a re-run with nothing changed (a pre-commit hook on an unrelated commit).
lint_cmd=("$EVCTL" lint --no-cache)
build_cmd=("$EVCTL" build --no-cache -o evctl.binpb)
lintc_cmd=("$EVCTL" lint)
buildc_cmd=("$EVCTL" build -o evctl.binpb)
buf_cmd=("$BUF" build buf-src -o buf.binpb)
fresh() { rm -rf .evctl/cache; measure lint_fresh "${lintc_cmd[@]}"; measure build_fresh "${buildc_cmd[@]}"; }

log "warm-up"
: > results.txt
measure warm "${lint_cmd[@]}"; measure warm "${build_cmd[@]}"; measure warm "${buf_cmd[@]}"
fresh; measure warm "${lintc_cmd[@]}"; measure warm "${buildc_cmd[@]}"
: > results.txt
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for r in $(seq 1 "$REPS"); do
  log "repetition $r/$REPS"
  # Rotate the order so that no side always runs first.
  case $((r % 3)) in
    1) fresh; measure buf "${buf_cmd[@]}"; measure lint "${lint_cmd[@]}"; measure build "${build_cmd[@]}" ;;
    2) measure buf "${buf_cmd[@]}"; measure lint "${lint_cmd[@]}"; measure build "${build_cmd[@]}"; fresh ;;
    0) measure lint "${lint_cmd[@]}"; measure build "${build_cmd[@]}"; fresh; measure buf "${buf_cmd[@]}" ;;
  esac
  measure lint_cached "${lintc_cmd[@]}"; measure build_cached "${buildc_cmd[@]}"
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# median NAME COLUMN (2 wall, 3 rss, 4 cpu)
median() {
  awk -v n="$1" -v c="$2" '$1 == n { print $c }' results.txt | sort -g |
    awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# pair A B COLUMN: per repetition, A + B (wall, CPU) or the larger (RSS); then the median. The two
# commands of a pair run one after the other in the same repetition.
pair() {
  awk -v a="$1" -v b="$2" -v c="$3" '
    $1 == a { x[++na] = $c } $1 == b { y[++nb] = $c }
    END { for (i = 1; i <= na && i <= nb; i++) print (c == 3 ? (x[i] > y[i] ? x[i] : y[i]) : x[i] + y[i]) }' results.txt |
    sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
mb() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }
verdict() { awk -v r="$1" 'BEGIN { print (r <= 1.0 ? "met" : "not met") }'; }
BUF_T=$(median buf 2); BUF_M=$(median buf 3); BUF_C=$(median buf 4)
for v in lint build lint_fresh build_fresh lint_cached build_cached; do
  declare "T_$v=$(median "$v" 2)" "M_$v=$(median "$v" 3)" "C_$v=$(median "$v" 4)"
done
FRESH_T=$(pair lint_fresh build_fresh 2); FRESH_M=$(pair lint_fresh build_fresh 3); FRESH_C=$(pair lint_fresh build_fresh 4)
FULL_T=$(pair lint build 2); FULL_M=$(pair lint build 3); FULL_C=$(pair lint build 4)
MODEL=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
EVCTL_REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$ROOT" diff --quiet HEAD -- 2>/dev/null || EVCTL_REV="$EVCTL_REV+dirty"
BUF_VER=$("$BUF" --version 2>&1)
GEN_FILES=$(find buf-src -name '*.proto' | wc -l)
GEN_KB=$(find buf-src -name '*.proto' -printf '%s\n' | awk '{ s += $1 } END { printf "%.0f", s / 1024 }')
RAW=$(find contracts -name '*.proto' | wc -l)
EV_SIZE=$(stat -c %s evctl.binpb); BUF_SIZE=$(stat -c %s buf.binpb)

SECTION=$(cat <<EOF
<!-- bench:contracts:start -->
## Contracts: evctl lint + build vs buf build

Generated by \`make bench\` (scripts/bench.sh) on $(date -u +%Y-%m-%d) at $(date -u +%H:%M) UTC. Do not edit by hand.

- Machine: $(nproc) CPUs, ${MODEL:-unknown}, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, $(uname -sr);
  load average ${LOAD_BEFORE} before, ${LOAD_AFTER} after.
- Versions: evctl ${EVCTL_REV} ($(go env GOVERSION)), ${BUF_VER/#/buf }.
- Repository: \`go run ./scripts/synth -n $N -seed $SEED\`: $N events in 12 domains, ${RAW} of them raw
  .proto contracts, 10-40 top-level fields each with nested records, enums, repeated fields, maps,
  timestamps, examples. Both sides compile the same ${GEN_FILES} effective .proto files (${GEN_KB} KiB:
  \`gen/proto\` as written by \`evctl generate\`, copied to \`buf-src/\` with a v2 \`buf.yaml\`). evctl also
  parses the YAML contracts, runs every lint rule, converts the examples and checks gen/ is fresh.
- Commands, run in the repository, interleaved, ${REPS} repetitions after a warm-up, medians shown;
  wall time and peak RSS from \`/usr/bin/time -f '%e %M %U %S'\`:
  - on a fresh checkout (\`.evctl/cache\` removed first, as in CI): \`evctl lint\`, then
    \`evctl build -o evctl.binpb\` (${EV_SIZE} bytes). A clean lint leaves the descriptor set in
    build's cache, so the pair compiles the contracts once, as buf build does;
  - the same with \`--no-cache\`: each command runs its whole pipeline, compiling twice;
  - \`buf build buf-src -o buf.binpb\` (${BUF_SIZE} bytes; both sets include imports and source info).
  A pair's time is the sum of its two commands and its memory the larger (they run one after the
  other); the median is taken over the repetitions' pairs.

| command | wall time | peak RSS | CPU (user+sys) |
|---|---:|---:|---:|
| \`evctl lint\`, fresh checkout | ${T_lint_fresh} s | $(mb "$M_lint_fresh") MB | ${C_lint_fresh} s |
| \`evctl build\` after it | ${T_build_fresh} s | $(mb "$M_build_fresh") MB | ${C_build_fresh} s |
| **evctl lint + build, fresh checkout** | **${FRESH_T} s** | **$(mb "$FRESH_M") MB** | ${FRESH_C} s |
| \`buf build\` | ${BUF_T} s | $(mb "$BUF_M") MB | ${BUF_C} s |
| **ratio evctl / buf** | **$(ratio "$FRESH_T" "$BUF_T")×** | **$(ratio "$FRESH_M" "$BUF_M")×** | $(ratio "$FRESH_C" "$BUF_C")× |
| \`evctl lint --no-cache\` | ${T_lint} s | $(mb "$M_lint") MB | ${C_lint} s |
| \`evctl build --no-cache\` | ${T_build} s | $(mb "$M_build") MB | ${C_build} s |
| evctl lint + build, both \`--no-cache\` | ${FULL_T} s | $(mb "$FULL_M") MB | ${FULL_C} s |
| ratio evctl / buf, \`--no-cache\` | $(ratio "$FULL_T" "$BUF_T")× | $(ratio "$FULL_M" "$BUF_M")× | $(ratio "$FULL_C" "$BUF_C")× |
| \`evctl lint\`, cache hit | ${T_lint_cached} s | $(mb "$M_lint_cached") MB | ${C_lint_cached} s |
| \`evctl build\`, cache hit | ${T_build_cached} s | $(mb "$M_build_cached") MB | ${C_build_cached} s |

Goal (issue 2): evctl lint + build at most 1.0× buf build in time and memory, on a fresh
checkout: time $(verdict "$(ratio "$FRESH_T" "$BUF_T")") ($(ratio "$FRESH_T" "$BUF_T")×), memory $(verdict "$(ratio "$FRESH_M" "$BUF_M")") ($(ratio "$FRESH_M" "$BUF_M")×).
With \`--no-cache\` on both (the contracts compiled twice): time $(verdict "$(ratio "$FULL_T" "$BUF_T")") ($(ratio "$FULL_T" "$BUF_T")×), memory $(verdict "$(ratio "$FULL_M" "$BUF_M")") ($(ratio "$FULL_M" "$BUF_M")×);
each command alone: lint $(ratio "$T_lint" "$BUF_T")× / $(ratio "$M_lint" "$BUF_M")×, build $(ratio "$T_build" "$BUF_T")× / $(ratio "$M_build" "$BUF_M")× of buf's time / memory.

Every measurement (name, wall s, peak RSS KiB, CPU s):

\`\`\`
$(cat results.txt)
\`\`\`
<!-- bench:contracts:end -->
EOF
)

cd "$ROOT"
write_section "$DOC" contracts "$SECTION"
printf '%s\n' "$SECTION" | sed -n '/^| command/,/^each command alone/p'
log "wrote $DOC"
