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
BUF="${BUF:-${EVCTL_BUF:-$ROOT/.tools/bin/buf}}"
TIME=/usr/bin/time

log() { echo "bench: $*" >&2; }
# shellcheck source=scripts/benchdoc.sh
. "$ROOT/scripts/benchdoc.sh"

# GNU time gives wall time and peak RSS of the whole process in one line.
if ! "$TIME" -f '%e %M' true >/dev/null 2>&1; then
  log "installing GNU time (apt-get install time)"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get install -y -qq time >/dev/null || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq time >/dev/null; }
  "$TIME" -f '%e %M' true >/dev/null 2>&1 || { log "GNU time is needed at $TIME"; exit 1; }
fi
if [ -z "${EVCTL:-}" ]; then
  EVCTL="$ROOT/.tools/bin/evctl"
  log "building $EVCTL"
  go build -o "$EVCTL" ./cmd/evctl
fi
if [ ! -x "$BUF" ]; then
  scripts/install-tools.sh
fi

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
# The comparison runs evctl's whole pipeline every time (--no-cache), like buf build. The cached
# rows show what a re-run, or build after lint in one CI job, costs when nothing changed.
lint_cmd=("$EVCTL" lint --no-cache)
build_cmd=("$EVCTL" build --no-cache -o evctl.binpb)
lintc_cmd=("$EVCTL" lint)
buildc_cmd=("$EVCTL" build -o evctl.binpb)
buf_cmd=("$BUF" build buf-src -o buf.binpb)

log "warm-up"
: > results.txt
measure warm "${lint_cmd[@]}"; measure warm "${build_cmd[@]}"; measure warm "${buf_cmd[@]}"
measure warm "${lintc_cmd[@]}"; measure warm "${buildc_cmd[@]}" # primes the cache
: > results.txt
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for r in $(seq 1 "$REPS"); do
  log "repetition $r/$REPS"
  # Rotate the order so that neither side always runs first.
  case $((r % 3)) in
    1) measure lint "${lint_cmd[@]}"; measure build "${build_cmd[@]}"; measure buf "${buf_cmd[@]}" ;;
    2) measure buf "${buf_cmd[@]}"; measure lint "${lint_cmd[@]}"; measure build "${build_cmd[@]}" ;;
    0) measure build "${build_cmd[@]}"; measure buf "${buf_cmd[@]}"; measure lint "${lint_cmd[@]}" ;;
  esac
  measure lint_cached "${lintc_cmd[@]}"; measure build_cached "${buildc_cmd[@]}"
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# median NAME COLUMN (2 wall, 3 rss, 4 cpu)
median() {
  awk -v n="$1" -v c="$2" '$1 == n { print $c }' results.txt | sort -g |
    awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
LINT_T=$(median lint 2); BUILD_T=$(median build 2); BUF_T=$(median buf 2)
# lint and build run one after the other, so their times add up.
TOTAL_T=$(awk -v a="$LINT_T" -v b="$BUILD_T" 'BEGIN { printf "%.2f", a + b }')
LINT_M=$(median lint 3); BUILD_M=$(median build 3); BUF_M=$(median buf 3)
LINT_C=$(median lint 4); BUILD_C=$(median build 4); BUF_C=$(median buf 4)
PEAK_M=$(( LINT_M > BUILD_M ? LINT_M : BUILD_M ))
LINTC_T=$(median lint_cached 2); BUILDC_T=$(median build_cached 2)
LINTC_M=$(median lint_cached 3); BUILDC_M=$(median build_cached 3)
LINTC_C=$(median lint_cached 4); BUILDC_C=$(median build_cached 4)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
mb() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }
T_RATIO=$(ratio "$TOTAL_T" "$BUF_T")
M_RATIO=$(ratio "$PEAK_M" "$BUF_M")
CPU_RATIO=$(ratio "$(awk -v a="$LINT_C" -v b="$BUILD_C" 'BEGIN { print a + b }')" "$BUF_C")
verdict() { awk -v r="$1" 'BEGIN { print (r <= 1.0 ? "met" : "not met") }'; }

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
- evctl runs with \`--no-cache\`: its whole pipeline every time, as buf build does. The cache rows
  below the ratio show the same commands answered from \`.evctl/cache\` (nothing changed since a
  clean run: a re-run, or a pre-commit hook on an unrelated commit).
- Commands, run in the repository, interleaved, ${REPS} repetitions after a warm-up, medians shown;
  wall time and peak RSS from \`/usr/bin/time -f '%e %M %U %S'\`:
  - \`evctl lint --no-cache\`
  - \`evctl build --no-cache -o evctl.binpb\` (${EV_SIZE} bytes)
  - \`buf build buf-src -o buf.binpb\` (${BUF_SIZE} bytes; both include imports and source info)

| command | wall time | peak RSS | CPU (user+sys) |
|---|---:|---:|---:|
| \`evctl lint\` | ${LINT_T} s | $(mb "$LINT_M") MB | ${LINT_C} s |
| \`evctl build\` | ${BUILD_T} s | $(mb "$BUILD_M") MB | ${BUILD_C} s |
| **evctl lint + build** | **${TOTAL_T} s** (the sum) | **$(mb "$PEAK_M") MB** (the larger; they run one after the other) | $(awk -v a="$LINT_C" -v b="$BUILD_C" 'BEGIN { printf "%.2f", a + b }') s |
| \`buf build\` | ${BUF_T} s | $(mb "$BUF_M") MB | ${BUF_C} s |
| **ratio evctl / buf** | **${T_RATIO}×** | **${M_RATIO}×** | ${CPU_RATIO}× |
| \`evctl lint\`, cache hit | ${LINTC_T} s | $(mb "$LINTC_M") MB | ${LINTC_C} s |
| \`evctl build\`, cache hit | ${BUILDC_T} s | $(mb "$BUILDC_M") MB | ${BUILDC_C} s |

Goal (issue 2): evctl lint + build at most 1.0× buf build in time and memory (judged on the
uncached runs).
Time: $(verdict "$T_RATIO") (${T_RATIO}×). Memory: $(verdict "$M_RATIO") (${M_RATIO}×).
Per command: lint $(ratio "$LINT_T" "$BUF_T")× / $(ratio "$LINT_M" "$BUF_M")×, build $(ratio "$BUILD_T" "$BUF_T")× / $(ratio "$BUILD_M" "$BUF_M")× of buf's time / memory.

Every measurement (name, wall s, peak RSS KiB, CPU s):

\`\`\`
$(cat results.txt)
\`\`\`
<!-- bench:contracts:end -->
EOF
)

cd "$ROOT"
write_section "$DOC" contracts "$SECTION"
printf '%s\n' "$SECTION" | sed -n '/^| command/,/^Per command/p'
log "wrote $DOC"
