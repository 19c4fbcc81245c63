#!/usr/bin/env bash
# `make bench`: the incremental check (issue 16) on synthetic repositories of 1,200 and 10,000
# events (scripts/synth), against buf build of the same protos in the same run: a fresh checkout's
# evctl lint + build, evctl lint after one changed event, evctl lint <that file> (the pre-commit
# path), evctl build after it, each once under GNU time (wall time and peak RSS). The 10,000-event
# repository takes minutes to generate and compile: run it on a quiet machine, once.
#
#   SIZES="1200 10000" scripts/bench-incremental.sh      # defaults
#   SIZES=1200 EVCTL=/path/to/evctl BUF=/path/to/buf scripts/bench-incremental.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SIZES="${SIZES:-1200 10000}"
SEED="${SEED:-1}"
ROUNDS="${ROUNDS:-3}"
DOC="${BENCH_DOC:-$ROOT/docs/benchmarks.md}"
WORK="${BENCH_DIR:-$ROOT/bench}"
TIME=/usr/bin/time

log() { echo "bench-incremental: $*" >&2; }
# shellcheck source=scripts/benchlib.sh
. "$ROOT/scripts/benchlib.sh"
need_gnu_time
need_evctl
need_buf

# measure NAME CMD...: appends "name wall_s rss_kb exit" to results.txt (lint exits 1 on findings,
# which the edit below causes: gen/ is stale until `evctl generate`).
measure() {
  local name=$1; shift
  local code=0
  "$TIME" -o time.out -f '%e %M' "$@" >/dev/null 2>cmd.err || code=$?
  [ "$code" -le 1 ] || { cat cmd.err >&2; log "$name failed ($code)"; exit 1; }
  tail -1 time.out | awk -v n="$name" -v c="$code" '{ printf "%s %s %s %s\n", n, $1, $2, c }' >> results.txt
}
get() { awk -v n="$1" -v c="$2" '$1 == n { print $c }' results.txt; }
mb() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
sumf() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a + b }'; }
maxf() { awk -v a="$1" -v b="$2" 'BEGIN { print (a > b ? a : b) }'; }
# med NAME COL / maxc NAME COL: the median / largest of a column over every row named NAME.
med() { awk -v n="$1" -v c="$2" '$1 == n { print $c }' results.txt | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
maxc() { awk -v n="$1" -v c="$2" '$1 == n && $c > m { m = $c } END { print m }' results.txt; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { print (a <= b ? "met" : "not met") }'; }

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
ROWS=""; RAWS=""; GOALS=""
for N in $SIZES; do
  REPO="$WORK/synth-incr-$N"
  rm -rf "$REPO"; mkdir -p "$WORK"
  log "generating $N events into $REPO"
  go run ./scripts/synth -n "$N" -seed "$SEED" -out "$REPO" >/dev/null 2>&1
  (
    cd "$REPO"
    : > results.txt
    # buf and a fresh evctl lint + build take turns ROUNDS times, so both see the same load; the
    # ratio is of their medians (one run each let a busy moment land on one side only).
    for r in $(seq "$ROUNDS"); do
      measure "buf_$r" "$BUF" build buf-src -o buf.binpb
      rm -rf .evctl/cache
      measure "lint_fresh_$r" "$EVCTL" lint
      measure "build_fresh_$r" "$EVCTL" build -o evctl.binpb
    done
    measure lint_hit "$EVCTL" lint
    # One changed event: a form contract's description (its effective contract and gen/ change).
    F=$(grep -l '^  fields:' contracts/*/*.yaml | head -1 || true)
    [ -n "$F" ] || { echo "no form contract" >&2; exit 1; }
    sed -i 's/^description: "/description: "Edited. /' "$F"
    measure lint_edit "$EVCTL" lint
    measure lint_file "$EVCTL" lint "$F"
    measure build_edit "$EVCTL" build -o evctl2.binpb
    measure build_nocache "$EVCTL" build --no-cache -o evctl3.binpb
    cmp -s evctl2.binpb evctl3.binpb || { log "incremental and --no-cache builds differ"; exit 1; }
  )
  R="$REPO/results.txt"
  cp "$R" results.txt
  # Per round: buf's wall, and lint + build's; the medians' ratio; peak RSS the largest seen.
  for r in $(seq "$ROUNDS"); do
    {
      echo "buf $(get "buf_$r" 2) $(get "buf_$r" 3) 0"
      echo "lint_fresh $(get "lint_fresh_$r" 2) $(get "lint_fresh_$r" 3) 0"
      echo "build_fresh $(get "build_fresh_$r" 2) $(get "build_fresh_$r" 3) 0"
      echo "pair $(sumf "$(get "lint_fresh_$r" 2)" "$(get "build_fresh_$r" 2)") $(maxf "$(get "lint_fresh_$r" 3)" "$(get "build_fresh_$r" 3)") 0"
    } >> results.txt
  done
  BT=$(med buf 2); BM=$(maxc buf 3)
  PT=$(med pair 2); PM=$(maxc pair 3)
  ROWS="$ROWS
| $N | \`buf build\` | $BT s | $(mb "$BM") MB |
| $N | \`evctl lint\`, fresh checkout | $(med lint_fresh 2) s | $(mb "$(maxc lint_fresh 3)") MB |
| $N | \`evctl build\` after it | $(med build_fresh 2) s | $(mb "$(maxc build_fresh 3)") MB |
| $N | **lint + build, fresh checkout / buf** | **$(ratio "$PT" "$BT")×** | **$(ratio "$PM" "$BM")×** |
| $N | \`evctl lint\`, nothing changed | $(get lint_hit 2) s | $(mb "$(get lint_hit 3)") MB |
| $N | \`evctl lint\` after one changed event | $(get lint_edit 2) s | $(mb "$(get lint_edit 3)") MB |
| $N | \`evctl lint <that file>\` | $(get lint_file 2) s | $(mb "$(get lint_file 3)") MB |
| $N | \`evctl build\` after it | $(get build_edit 2) s | $(mb "$(get build_edit 3)") MB |
| $N | \`evctl build --no-cache\` (same bytes) | $(get build_nocache 2) s | $(mb "$(get build_nocache 3)") MB |"
  RAWS="$RAWS
# $N events
$(cat results.txt)"
  GOALS="$GOALS
- $N events: \`lint <one changed file>\` ≤ 1.0 s: $(le "$(get lint_file 2)" 1.0) ($(get lint_file 2) s); \`lint\` after one changed event ≤ 1.5 s: $(le "$(get lint_edit 2)" 1.5) ($(get lint_edit 2) s); fresh lint + build ≤ 0.5× buf: $(le "$(ratio "$PT" "$BT")" 0.5) ($(ratio "$PT" "$BT")×); peak RSS ≤ 1 GB: $(le "$PM" 1048576) ($(mb "$PM") MB)."
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
rm -f results.txt time.out cmd.err

SECTION=$(cat <<EOF
<!-- bench:incremental:start -->
## Contracts: incremental lint and build (issue 16)

Generated by \`SIZES="$SIZES" scripts/bench-incremental.sh\` (part of \`make bench\`) on $(date -u +%Y-%m-%d) at $(date -u +%H:%M) UTC. Do not edit by hand.

- Machine: $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM; load average ${LOAD_BEFORE} before, ${LOAD_AFTER} after
  (a load above the CPU count means other work shared the machine: compare the ratios, measured in the same run).
- Repositories: \`go run ./scripts/synth -n N -seed $SEED\`. Each command runs under
  \`/usr/bin/time -f '%e %M'\`, in this order: $ROUNDS rounds of \`buf build buf-src\` then, with
  \`.evctl/cache\` removed, \`evctl lint\` and \`evctl build\` (turn about, so both see the same load;
  the table gives each one's median wall time, the ratio is of the medians, peak RSS is the largest of the
  rounds); then once each: \`evctl lint\` again; then one form contract's description is edited and
  \`evctl lint\`, \`evctl lint <that file>\`, \`evctl build\` and \`evctl build --no-cache\` run (the two
  builds' bytes are compared). After the edit lint reports GEN_STALE (gen/ not regenerated), as a
  pre-commit hook would.

| events | command | wall time | peak RSS |
|---:|---|---:|---:|${ROWS}

Goals (issue 16):${GOALS}

Every measurement (name, wall s, peak RSS KiB, exit code):

\`\`\`${RAWS}
\`\`\`
<!-- bench:incremental:end -->
EOF
)
write_section "$DOC" incremental "$SECTION" gateway-run
log "wrote the incremental section of $DOC"
