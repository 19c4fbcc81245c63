#!/usr/bin/env bash
# Issue 16's memory goal, command by command: "peak RSS of every command on the 10,000-event
# repository ≤ 1 GB". On synthetic repositories of each size in SIZES (scripts/synth), every evctl
# command that reads the whole repository runs once under GNU time (wall time, peak RSS):
#
#   - offline: lint (fresh, cached, --no-cache), generate (fresh, --no-cache), build (fresh,
#     --no-cache; the two sets compared byte for byte), breaking against a git ref and a built
#     set, export in every format, describe, list, search, catalog, codeowners, new, promote,
#     schema;
#   - against `evctl dev` (kfake with SASL/SCRAM and ACLs, file:// state and descriptor store;
#     BigQuery and Delta removed from the local environment): apply from empty, plan (and
#     --refresh=full, --out and show), status, describe --env, drift, import --dry-run, tail,
#     the gateway until /readyz, and `evctl dev` itself (its high-water mark, VmHWM).
#
# Results go to docs/benchmarks.md between the bench:rss markers with a ≤ 1 GB verdict per
# command. Each size runs on its own copy; the 10,000-event repository takes a few minutes.
#
#   SIZES="1200 10000" scripts/bench-rss.sh      # defaults
#   SIZES=1200 EVCTL=/path/to/evctl scripts/bench-rss.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SIZES="${SIZES:-1200 10000}"
SEED="${SEED:-1}"
DOC="${BENCH_DOC:-$ROOT/docs/benchmarks.md}"
WORK="${BENCH_DIR:-$ROOT/bench}/rss"
TIME=/usr/bin/time
LIMIT_KB=1048576 # 1 GiB

log() { echo "bench-rss: $*" >&2; }
# shellcheck source=scripts/benchlib.sh
. "$ROOT/scripts/benchlib.sh"

command -v python3 >/dev/null || { log "python3 is needed (free ports)"; exit 1; }
command -v curl >/dev/null || { log "curl is needed"; exit 1; }
command -v git >/dev/null || { log "git is needed (breaking --against a ref)"; exit 1; }
need_gnu_time
need_evctl
need_buf
export EVCTL_BUF="$BUF"

DEV=""
BG=""
stop_all() {
  if [ -n "$BG" ]; then kill "$BG" 2>/dev/null || true; wait "$BG" 2>/dev/null || true; BG=""; fi
  if [ -n "$DEV" ]; then kill "$DEV" 2>/dev/null || true; wait "$DEV" 2>/dev/null || true; DEV=""; fi
}
trap stop_all EXIT

# measure NAME WANT CMD...: runs CMD under GNU time and appends "name wall_s rss_kb exit" to RES;
# CMD must exit with one of the codes in WANT (comma-separated).
measure() {
  local name=$1 want=$2; shift 2
  local rc=0
  "$TIME" -o time.out -f '%e %M' "$@" > cmd.out 2> cmd.err || rc=$?
  case ",$want," in
    *",$rc,"*) ;;
    *) tail -n 20 cmd.out cmd.err >&2; log "$name exited $rc, want $want"; exit 1 ;;
  esac
  tail -1 time.out | awk -v n="$name" -v c="$rc" '{ printf "%s %s %s %s\n", n, $1, $2, c }' >> "$RES"
  log "$name: $(tail -1 "$RES" | cut -d' ' -f2-)"
}

# measure_until_ready NAME PORT CMD...: starts a server under GNU time, waits for
# http://127.0.0.1:PORT/readyz to answer 200, then stops it (SIGTERM) and records its wall time
# to ready and peak RSS.
measure_until_ready() {
  local name=$1 port=$2; shift 2
  local start ready child
  start=$(date +%s.%N)
  "$TIME" -o time.out -f '%e %M' "$@" > cmd.out 2> cmd.err &
  BG=$!
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")" = 200 ]; do
    kill -0 "$BG" 2>/dev/null || { tail -n 20 cmd.err >&2; log "$name exited before it was ready"; exit 1; }
    sleep 0.1
  done
  ready=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
  # GNU time reports when its child ends: stop the child, by its process id.
  child=$(ps -o pid= --ppid "$BG" | tr -d ' ')
  [ -n "$child" ] && kill "$child"
  wait "$BG" || true
  BG=""
  tail -1 time.out | awk -v n="$name" -v r="$ready" '{ printf "%s %s %s 0\n", n, r, $2 }' >> "$RES"
  log "$name: $(tail -1 "$RES" | cut -d' ' -f2-)"
}

# pick STAGE: the first event file (in path order) of the form path (fields in its YAML) at STAGE.
pick() {
  find contracts -name '*.yaml' | sort | while read -r f; do
    if grep -q '^  fields:' "$f" && grep -q "^stage: $1" "$f"; then echo "$f"; break; fi
  done || true
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
ALL=""
ROWS=""
mkdir -p "$WORK"
for N in $SIZES; do
  SRC="$WORK/synth-$N"
  if [ ! -f "$SRC/.synth-$N-$SEED" ]; then
    rm -rf "$SRC"
    log "generating $N events into $SRC"
    go run ./scripts/synth -n "$N" -seed "$SEED" -out "$SRC" >&2
    touch "$SRC/.synth-$N-$SEED"
  fi
  RES="$WORK/results-$N.txt"
  : > "$RES"

  # Offline commands, on a git repository (breaking reads the baseline from git objects).
  REPO="$WORK/repo-$N"
  rm -rf "$REPO" && mkdir -p "$REPO"
  cp -r "$SRC/evctl.yaml" "$SRC/contracts" "$SRC/gen" "$REPO"/
  cd "$REPO"
  git init -q && git add -A && git -c user.name=bench -c user.email=bench@localhost commit -qm synth
  # A prod event of the form path (fields in its YAML), and a staging one for promote.
  PROD=$(pick prod)
  STAGING=$(pick staging)
  PROD_ID=$(basename "$(dirname "$PROD")")/$(basename "$PROD" .yaml)
  STAGING_ID=$(basename "$(dirname "$STAGING")")/$(basename "$STAGING" .yaml)
  log "$N events: offline commands (event $PROD_ID)"
  rm -rf .evctl/cache
  measure lint-fresh 0 "$EVCTL" lint
  measure lint-cached 0 "$EVCTL" lint
  measure lint-nocache 0 "$EVCTL" lint --no-cache
  rm -rf .evctl/cache
  measure generate-fresh 0 "$EVCTL" generate
  measure generate-nocache 0 "$EVCTL" generate --no-cache
  rm -rf .evctl/cache
  measure build-fresh 0 "$EVCTL" build -o "$WORK/fresh-$N.binpb"
  measure build-nocache 0 "$EVCTL" build --no-cache -o "$WORK/nocache-$N.binpb"
  cmp -s "$WORK/fresh-$N.binpb" "$WORK/nocache-$N.binpb" || { log "build and build --no-cache differ"; exit 1; }
  measure breaking-ref 0 "$EVCTL" breaking --against HEAD
  measure breaking-set 0 "$EVCTL" breaking --against "$WORK/nocache-$N.binpb"
  for f in proto bigquery delta jsonschema clickhouse; do
    measure "export-$f" 0 "$EVCTL" export "$PROD_ID" --format "$f"
  done
  measure describe 0 "$EVCTL" describe "$PROD_ID"
  measure list 0 "$EVCTL" list
  measure search 0 "$EVCTL" search badge
  measure catalog 0 "$EVCTL" catalog
  measure codeowners 0 "$EVCTL" codeowners
  measure new 0 "$EVCTL" new bench/bench_added --owner growth/feed --field item_id:string:required
  rm -f contracts/bench/bench_added.yaml && rmdir contracts/bench 2>/dev/null || true
  measure promote 0 "$EVCTL" promote "$STAGING_ID"
  git checkout -q -- contracts
  measure schema 0 "$EVCTL" schema event
  cd "$ROOT"

  # Commands against an environment: `evctl dev` with the repository applied from empty.
  log "$N events: evctl dev, apply from empty, then the environment's commands"
  # gctrace on evctl dev only: its heap at each collection, to tell its Go heap from the rest.
  GODEBUG=gctrace=1 dev_stack "$WORK/stack-$N" "$SRC" 10h 300
  measure apply 0 "$EVCTL" apply --env local --auto-approve
  measure plan 0 "$EVCTL" plan --env local --detailed-exitcode
  measure plan-full 0 "$EVCTL" plan --env local --detailed-exitcode --refresh=full
  measure plan-out 0 "$EVCTL" plan --env local --out plan.evplan
  measure show 0 "$EVCTL" show plan.evplan
  measure status 0 "$EVCTL" status --env local
  measure describe-env 0 "$EVCTL" describe "$PROD_ID" --env local --sample 0
  measure drift 0 "$EVCTL" drift --env local
  TOPIC="local.${PROD_ID//\//.}.v1"
  measure import-dry-run 0 "$EVCTL" import --env local kafka_topic "$TOPIC" --event "$PROD_ID" --dry-run
  measure tail 0 "$EVCTL" tail "$PROD_ID" --env local -n 1
  measure breaking-env 0 "$EVCTL" breaking --against env:local
  PORT=$(free_port)
  measure_until_ready gateway-ready "$PORT" "$EVCTL" gateway --env local --listen "127.0.0.1:$PORT"
  DEV_HWM=$(awk '/VmHWM/ { print $2 }' "/proc/$DEV/status")
  DEV_RSS=$(awk '/VmRSS/ { print $2 }' "/proc/$DEV/status")
  # The largest Go heap evctl dev had when a collection started (gctrace "A->B->C MB").
  DEV_HEAP=$(grep -o '[0-9]*->[0-9]*->[0-9]* MB' dev.err | awk -F'->' '{ if ($1 > m) m = $1 } END { print m * 1024 }')
  echo "dev - $DEV_HWM 0" >> "$RES"
  echo "dev-now - $DEV_RSS 0" >> "$RES"
  echo "dev-heap - ${DEV_HEAP:-0} 0" >> "$RES"
  stop_all
  cd "$ROOT"

  mb() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }
  while read -r name wall rss rc; do
    case $name in
      lint-fresh) what="\`evctl lint\`, fresh checkout (no cache)" ;;
      lint-cached) what="\`evctl lint\`, nothing changed (cache hit)" ;;
      lint-nocache) what="\`evctl lint --no-cache\`" ;;
      generate-fresh) what="\`evctl generate\`, no cache" ;;
      generate-nocache) what="\`evctl generate --no-cache\`" ;;
      build-fresh) what="\`evctl build\`, no cache" ;;
      build-nocache) what="\`evctl build --no-cache\` (same bytes as \`build\`)" ;;
      breaking-ref) what="\`evctl breaking --against HEAD\` (nothing changed)" ;;
      breaking-set) what="\`evctl breaking --against FILE.binpb\`" ;;
      export-*) what="\`evctl export <event> --format ${name#export-}\`" ;;
      describe) what="\`evctl describe <event>\`" ;;
      list) what="\`evctl list\`" ;;
      search) what="\`evctl search badge\`" ;;
      catalog) what="\`evctl catalog\`" ;;
      codeowners) what="\`evctl codeowners\`" ;;
      new) what="\`evctl new\`" ;;
      promote) what="\`evctl promote <staging event>\`" ;;
      schema) what="\`evctl schema event\`" ;;
      apply) what="\`evctl apply --auto-approve\` from empty" ;;
      plan) what="\`evctl plan --detailed-exitcode\`, nothing changed" ;;
      plan-full) what="\`evctl plan --refresh=full\`" ;;
      plan-out) what="\`evctl plan --out FILE\`" ;;
      show) what="\`evctl show FILE\`" ;;
      status) what="\`evctl status\`" ;;
      describe-env) what="\`evctl describe <event> --env local\`" ;;
      drift) what="\`evctl drift\`" ;;
      import-dry-run) what="\`evctl import kafka_topic ... --dry-run\`" ;;
      tail) what="\`evctl tail <event> -n 1\`" ;;
      gateway-ready) what="\`evctl gateway\` until /readyz (time to ready)" ;;
      breaking-env) what="\`evctl breaking --against env:local\` (nothing changed)" ;;
      dev) what="\`evctl dev\` through all of the above (peak: VmHWM)" ;;
      dev-now) what="\`evctl dev\` at the end (VmRSS)" ;;
      dev-heap) what="\`evctl dev\`: largest Go heap at a collection (gctrace)" ;;
      *) what=$name ;;
    esac
    [ "$wall" = - ] && wall="" || wall="$wall s"
    verdict="met"
    [ "$rss" -le "$LIMIT_KB" ] || verdict="**NOT met**"
    ROWS="$ROWS| $N | $what | $wall | $(mb "$rss") MB | $verdict |
"
  done < "$RES"
  ALL="$ALL
# $N events
$(cat "$RES")"
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

EVCTL_REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$ROOT" diff --quiet HEAD -- 2>/dev/null || EVCTL_REV="$EVCTL_REV+dirty"
SECTION=$(cat <<EOF
<!-- bench:rss:start -->
## Peak RSS of every command (issue 16: ≤ 1 GB on the 10,000-event repository)

Generated by \`SIZES="$SIZES" scripts/bench-rss.sh\` (part of \`make bench\`) on $(date -u +%Y-%m-%d) at $(date -u +%H:%M) UTC. Do not edit by hand.

- Machine: $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM; load average ${LOAD_BEFORE} before, ${LOAD_AFTER} after
  (a load above the CPU count means other work shared the machine: times are noisy, peak RSS much less so).
- evctl ${EVCTL_REV} ($(go env GOVERSION)). Repositories: \`go run ./scripts/synth -n N -seed $SEED\` (no consumers or
  counters, so \`evctl route\` and \`evctl count\` have nothing to run there: see the gateway, count and route sections).
- Each command runs once under \`/usr/bin/time -f '%e %M'\` (peak RSS of the largest process: buf's for \`breaking\`).
  Offline commands run on a git copy of the repository; the others against \`evctl dev\` with BigQuery and Delta
  removed from the local environment, after \`apply\` from empty. \`evctl dev\`'s own peak is its VmHWM at the end.
  The gateway row is the time to \`/readyz\` and the peak until then; with every event in use see the
  gateway-registry section.

| events | command | wall time | peak RSS | ≤ 1 GB |
|---:|---|---:|---:|---|
${ROWS}
Every measurement (name, wall s, peak RSS KiB, exit code):

\`\`\`${ALL}
\`\`\`
<!-- bench:rss:end -->
EOF
)
write_section "$DOC" rss "$SECTION"
printf '%s\n' "$SECTION" | sed -n '/^| events/,/^Every measurement/p' >&2
log "wrote the rss section of $DOC"
