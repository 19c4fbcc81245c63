#!/usr/bin/env bash
# The gateway registry benchmark of issue 16: `evctl gateway --env local` in front of a synthetic
# repository of N events (scripts/synth), applied on `evctl dev`, for each N in SIZES:
#
#   1. time from start to /readyz 200, and RSS then;
#   2. RSS after one event of each of TYPES types was posted (scripts/gwprobe post; each event
#      posted twice: the first request of a type loads it, the second shows the steady state);
#   3. one of those events republished with an edited description (scripts/gwprobe edit, the
#      store write `evctl apply` does): the reload's duration (its log line) and RSS after;
#   4. one event of every one of the N types posted (gwprobe post -rounds 1, 8 at a time): the
#      time that takes (each type's first request: the event loaded, its topic new to the
#      producer), RSS after, and the registry's evictions, estimated loaded bytes and the
#      gateway's Kafka clients from /metrics;
#   5. then IDLE_S seconds with no request: the gateway's CPU (cores, from /proc) and garbage
#      collections per second (go_gc_duration_seconds_count) with every type in use;
#   6. peak RSS of the whole run (GNU time).
#
# The same steps run with `evctl gateway --preload` (every event's descriptors loaded before
# ready, and the whole contracts repository parsed: the gateway as it was before it loaded events
# on first use) as the baseline in the same run, and with a small registry budget
# (--registry-budget-mb $SMALL_BUDGET_MB) to show memory bounded while every type is in use.
# Results go to docs/benchmarks.md between the bench:gateway-registry markers (other sections
# are left alone).
#
#   SIZES="1200 10000" TYPES=100 SMALL_BUDGET_MB=16 IDLE_S=10 scripts/bench-gateway-registry.sh  # defaults
#   EVCTL=/path/to/evctl scripts/bench-gateway-registry.sh
#
# BigQuery and Delta tables are left out of the local environment (as in bench-apply.sh): what
# is measured is the gateway, the descriptor store and Kafka. An apply that fails on some Kafka
# ACLs (kfake answering slowly under load) is accepted when every descriptor was published: the
# gateway needs index.json, the sets and the topics.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SIZES="${SIZES:-1200 10000}"
TYPES="${TYPES:-100}"
SMALL_BUDGET_MB="${SMALL_BUDGET_MB:-16}"
IDLE_S="${IDLE_S:-10}"
SEED="${SEED:-1}"
DOC="${BENCH_DOC:-$ROOT/docs/benchmarks.md}"
WORK="${BENCH_DIR:-$ROOT/bench}/gateway-registry"
TIME=/usr/bin/time

log() { echo "bench-gateway-registry: $*" >&2; }
# shellcheck source=scripts/benchlib.sh
. "$ROOT/scripts/benchlib.sh"
rss_mb() { awk '/VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
readyz() { curl -s "http://127.0.0.1:$1/readyz"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
gc_count() { curl -s "http://127.0.0.1:$1/metrics" | awk '$1 == "go_gc_duration_seconds_count" { print $2 }'; }
json_field() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval("d"+sys.argv[1]))' "$1"; }

command -v python3 >/dev/null || { log "python3 is needed (free ports, JSON)"; exit 1; }
command -v curl >/dev/null || { log "curl is needed"; exit 1; }
need_gnu_time
need_evctl
mkdir -p "$WORK"
PROBE="$WORK/gwprobe"
go build -o "$PROBE" ./scripts/gwprobe

DEV=""
GW=""
stop_all() {
  if [ -n "$GW" ]; then kill "$GW" 2>/dev/null || true; GW=""; fi
  # SIGKILL: the stack is thrown away, and a 10,000-topic kfake saving its partitions on a
  # clean stop took minutes.
  if [ -n "$DEV" ]; then kill -KILL "$DEV" 2>/dev/null || true; wait "$DEV" 2>/dev/null || true; DEV=""; fi
}
trap stop_all EXIT

: > "$WORK/results.txt"
: > "$WORK/apply.txt"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# gateway N MODE: one gateway run on the current stack; appends its line to results.txt.
gateway() {
  local n=$1 mode=$2 flags=() port start tpid ready rss_ready rss_types gen newgen sha reload built rss_reload
  local all_start all_s rss_all metrics evicted loaded_mb heap_goal left_out producers
  local idle_t0 idle_c0 idle_g0 idle_cpu idle_gc
  [ "$mode" = preload ] && flags=(--preload)
  [ "$mode" = budget ] && flags=(--registry-budget-mb "$SMALL_BUDGET_MB")
  port=$(free_port)
  start=$(now)
  "$TIME" -o "gw-$mode.time" -f '%e %M' "$EVCTL" gateway --env local --listen "127.0.0.1:$port" "${flags[@]}" \
    > "gw-$mode.out" 2> "gw-$mode.err" &
  tpid=$!
  for _ in $(seq 1 100); do GW=$(pgrep -P "$tpid" || true); [ -n "$GW" ] && break; sleep 0.01; done
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")" = 200 ]; do
    kill -0 "$tpid" 2>/dev/null || { tail "gw-$mode.err" >&2; log "gateway ($mode) exited"; exit 1; }
    sleep 0.02
  done
  ready=$(since "$start")
  rss_ready=$(rss_mb "$GW")
  log "N=$n $mode: ready in ${ready}s, RSS ${rss_ready} MB; posting $TYPES types"
  "$PROBE" post -repo . -url "http://127.0.0.1:$port" -n "$TYPES" -ids "ids-$mode.txt" > "post-$mode.json"
  rss_types=$(rss_mb "$GW")
  gen=$(readyz "$port" | json_field "['generation']")
  sha=$("$PROBE" edit -store "file://$PWD/.evctl/descriptors" -event "$(head -1 "ids-$mode.txt")" -note "bench edit ($mode)")
  for _ in $(seq 1 1200); do
    newgen=$(readyz "$port" | json_field "['generation']")
    [ "$newgen" -gt "$gen" ] && break
    sleep 0.1
  done
  [ "$newgen" -gt "$gen" ] || { log "no reload after the edit"; exit 1; }
  reload=$(grep '"registry loaded"' "gw-$mode.err" | grep "\"generation\":$newgen," | json_field "['took_ms']")
  built=$(grep '"registry loaded"' "gw-$mode.err" | grep "\"generation\":$newgen," | json_field "['built_now']")
  rss_reload=$(rss_mb "$GW")
  log "N=$n $mode: posting one event of each of the $n types"
  all_start=$(now)
  "$PROBE" post -repo . -url "http://127.0.0.1:$port" -n "$n" -rounds 1 -c 8 > "all-$mode.json"
  all_s=$(since "$all_start")
  rss_all=$(rss_mb "$GW")
  metrics=$(curl -s "http://127.0.0.1:$port/metrics")
  evicted=$(awk '$1 == "evctl_gateway_registry_evictions_total" { printf "%.0f", $2 }' <<< "$metrics")
  loaded_mb=$(awk '$1 == "evctl_gateway_registry_loaded_bytes" { printf "%.0f", $2 / 1048576 }' <<< "$metrics")
  # The Go heap's next GC goal: twice what was live after the last collection (GOGC=100).
  heap_goal=$(awk '$1 == "go_memstats_next_gc_bytes" { printf "%.0f", $2 / 1048576 }' <<< "$metrics")
  producers=$(awk '$1 == "evctl_gateway_kafka_producers" { printf "%.0f", $2 }' <<< "$metrics")
  # Idle with every type in use: nothing is posted; what the gateway spends now it spends on
  # keeping N topics and events (metadata refreshes, the record-limit poll, the registry poll).
  sleep 2
  idle_t0=$(now); idle_c0=$(cpu_ticks "$GW"); idle_g0=$(gc_count "$port")
  sleep "$IDLE_S"
  idle_cpu=$(awk -v c="$(( $(cpu_ticks "$GW") - idle_c0 ))" -v hz="$(getconf CLK_TCK)" -v a="$idle_t0" -v b="$(now)" 'BEGIN { printf "%.2f", c / hz / (b - a) }')
  idle_gc=$(awk -v g0="$idle_g0" -v g1="$(gc_count "$port")" -v a="$idle_t0" -v b="$(now)" 'BEGIN { printf "%.2f", (g1 - g0) / (b - a) }')
  kill "$GW"; wait "$tpid" 2>/dev/null || true; GW=""
  local first second peak
  first=$(json_field "['first']['p50_ms']" < "post-$mode.json")
  second=$(json_field "['second']['p50_ms']" < "post-$mode.json")
  peak=$(awk '{ printf "%.0f", $2 / 1024 }' "gw-$mode.time")
  retried=$(json_field "['retried_503']" < "post-$mode.json")
  retried=$((retried + $(json_field "['retried_503']" < "all-$mode.json")))
  # Types kfake kept refusing (UNKNOWN_SERVER_ERROR on every attempt) are left out, and counted.
  left_out=$(python3 -c 'import json,sys; print(len(json.load(sys.stdin)["failed"] or []))' < "all-$mode.json")
  echo "$n $mode $ready $rss_ready $rss_types $first $second $reload $built $rss_reload $peak $retried $sha $rss_all $all_s $evicted $loaded_mb $heap_goal $left_out $idle_cpu $idle_gc $producers" >> "$WORK/results.txt"
  log "N=$n $mode: ready ${ready}s RSS ${rss_ready}/${rss_types}/${rss_reload}/${rss_all} MB peak ${peak} MB; first/second request p50 ${first}/${second} ms; reload ${reload} ms (${built} built); all $n types in ${all_s}s, ${evicted} evicted, ${loaded_mb} MB loaded, ${producers} Kafka clients; idle after ${idle_cpu} cores, ${idle_gc} GC/s"
}

for N in $SIZES; do
  REPO="$WORK/repo-$N"
  if [ ! -f "$REPO/.synth-$N-$SEED" ]; then
    rm -rf "$REPO"
    log "generating $N events into $REPO"
    go run ./scripts/synth -n "$N" -seed "$SEED" -out "$REPO" >&2
    touch "$REPO/.synth-$N-$SEED"
  fi
  STACK="$WORK/stack-$N"
  for mode in lazy budget preload; do
    # A fresh stack for each gateway: evctl dev's kfake keeps two files open per partition
    # written, so with 10,000 topics written the open-file limit (20,000 here) is reached; one
    # stack for the three gateways left the second unable to connect.
    # A one-second poll so the reload after the edit comes quickly (the poll itself is not
    # timed: the reload's log line is).
    dev_stack "$STACK" "$REPO" 1s 60
    log "N=$N ($mode): evctl apply --env local --auto-approve"
    start=$(now)
    "$EVCTL" apply --env local --auto-approve > apply.out 2> apply.err || log "apply exited non-zero: $(tail -1 apply.out)"
    APPLY_S=$(since "$start")
    published=$(python3 -c 'import json; print(len(json.load(open(".evctl/descriptors/index.json"))["events"]))')
    [ "$published" = "$N" ] || { tail apply.out apply.err >&2; log "$published of $N events published"; exit 1; }
    [ "$mode" = lazy ] && echo "$N events $APPLY_S s ($(tail -1 apply.out | sed -n 's/.*: \([0-9]*\) ok, \([0-9]*\) failed.*/\1 resources ok, \2 failed/p'))" >> "$WORK/apply.txt"
    gateway "$N" "$mode"
    stop_all
    cd "$ROOT"
  done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# field N MODE COLUMN (3 ready, 4 rss ready, 5 rss types, 6 first p50, 7 second p50, 8 reload ms,
# 9 built at reload, 10 rss after reload, 11 peak, 14 rss after all types, 15 s to post all types,
# 16 evicted, 17 estimated loaded MB, 18 heap goal MB after all types, 19 types left out,
# 20 idle CPU cores after, 21 idle GC cycles per second after, 22 Kafka clients)
field() { awk -v n="$1" -v m="$2" -v c="$3" '$1 == n && $2 == m { print $c }' "$WORK/results.txt"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "-" }'; }
verdict() { awk -v v="$1" -v g="$2" 'BEGIN { print (v <= g ? "met" : "not met") }'; }
MODEL=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
EVCTL_REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$ROOT" diff --quiet HEAD -- 2>/dev/null || EVCTL_REV="$EVCTL_REV+dirty"

ROWS=""
GOALS=""
for N in $SIZES; do
  for mode in preload lazy budget; do
    case $mode in
      preload) label="\`evctl gateway --preload\` (baseline: every event at start)" ;;
      lazy) label="\`evctl gateway\` (events loaded on first use; default budget 256 MiB)" ;;
      budget) label="\`evctl gateway --registry-budget-mb $SMALL_BUDGET_MB\`" ;;
    esac
    ROWS+="| $N | $label | $(field "$N" $mode 3) s | $(field "$N" $mode 4) MB | $(field "$N" $mode 5) MB | $(field "$N" $mode 6) / $(field "$N" $mode 7) ms | $(field "$N" $mode 8) ms ($(field "$N" $mode 9) built) | $(field "$N" $mode 10) MB | $(field "$N" $mode 15) s ($(field "$N" $mode 19) left out); idle after: $(field "$N" $mode 20) cores, $(field "$N" $mode 21) GC/s | $(field "$N" $mode 14) MB ($(field "$N" $mode 16) evicted; $(field "$N" $mode 17) MB est.; heap goal $(field "$N" $mode 18) MB; $(field "$N" $mode 22) Kafka clients) | $(field "$N" $mode 11) MB |"$'\n'
  done
  ROWS+="| $N | **preload / lazy** | **$(ratio "$(field "$N" preload 3)" "$(field "$N" lazy 3)")×** | | | | | | | | **$(ratio "$(field "$N" preload 11)" "$(field "$N" lazy 11)")×** |"$'\n'
  GOALS+="- $N events: ready $(field "$N" lazy 3) s (goal ≤ 5 s: $(verdict "$(field "$N" lazy 3)" 5)); peak RSS with all $N types in use $(field "$N" lazy 11) MB (goal ≤ 1 GB: $(verdict "$(field "$N" lazy 11)" 1024)); reload after one event changed $(field "$N" lazy 8) ms, building $(field "$N" lazy 9) event; first requests of all $N types $(field "$N" lazy 15) s ($(field "$N" lazy 19) types left out, kfake refusing them), then idle at $(field "$N" lazy 20) cores and $(field "$N" lazy 21) GC cycles/s."$'\n'
done

SECTION=$(cat <<EOF
<!-- bench:gateway-registry:start -->
## Gateway registry at 1,200 and 10,000 events: start-up, memory, reload

Generated by \`scripts/bench-gateway-registry.sh\` on $(date -u +%Y-%m-%d) at $(date -u +%H:%M) UTC. Do not edit by hand.

- Machine: $(nproc) CPUs, ${MODEL:-unknown}, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, $(uname -sr);
  load average ${LOAD_BEFORE} before, ${LOAD_AFTER} after (the machine is shared: read the ratios).
- evctl ${EVCTL_REV} ($(go env GOVERSION)). Repositories: \`go run ./scripts/synth -n N -seed $SEED\`, applied with
  \`evctl apply --env local --auto-approve\` on \`evctl dev\` (kfake, file:// descriptor store; BigQuery
  and Delta removed from the local environment). Apply: $(tr '\n' ';' < "$WORK/apply.txt" | sed 's/;$//; s/;/; /g').
- Each row is one \`evctl gateway --env local\` process: time from its start to \`/readyz\` 200 and its RSS then;
  RSS after one event of each of $TYPES types was posted (\`scripts/gwprobe post\`; p50 latency of each
  type's first request, which loads it, and of its second); then one of those events republished with an
  edited description (\`scripts/gwprobe edit\`: a new set and its index.json entry, as apply writes them):
  the reload's own duration from its log line (index.json read and diffed, changed events in use built)
  and RSS after; then one event of every published type (\`gwprobe post -rounds 1 -c 8\`): the time to
  post them (each the first request of its type: the event loaded, its topic new to the producer),
  RSS after, and from /metrics the events the registry evicted, the memory it estimates the loaded
  events hold, the Go heap's next GC goal (twice the heap live after the last collection: RSS
  follows it, not the live heap) and the Kafka clients the gateway produces with (one per
  500 topics); then ${IDLE_S} s without requests: the gateway's CPU (cores) and GC cycles per second
  with every type in use; peak RSS of the whole process (GNU time), which includes those steps.
- Each gateway runs on a fresh \`evctl dev\` stack (applied anew): its kfake keeps two files open per
  partition written, and this machine's open-file limit is 20,000, so with 10,000 topics written the
  last few dozen types cannot be (kfake answers UNKNOWN_SERVER_ERROR): those are left out, counted.
- \`--registry-budget-mb $SMALL_BUDGET_MB\`: the same gateway with a small registry budget, so that using
  every type evicts the least recently used: memory stays bounded whatever the number of types in use.
- Baseline in the same run: \`--preload\`, which parses every contract and builds every event's
  descriptors and converter before ready, as the gateway did before loading them on first use.
- A type's first request costs more than its second in both modes: the producer fetches the new
  topic's metadata first. What loading the event adds is the lazy row's first request minus the
  preload row's.

| events | gateway | ready | RSS at ready | RSS after $TYPES types | first / second request (p50) | reload after one edit | RSS after reload | first request of every type | RSS after all types used | peak RSS |
|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|
${ROWS}
Goals (issue 16, gateway):
${GOALS}
For reference, issue 16 measured the gateway before this work at about 65 s to ready and 10.7 GB
peak RSS on the 10,000-event repository. Main before this change (3e9f5a2: imports already shared,
every event built at start, every contract parsed) took 183 s to ready, with 2.4 GB RSS then, on
this machine under load (one run by hand, not part of this script); \`--preload\` above is the
same work. Before the registry budget (c699a0e), an event in use held its descriptors beside its
converter, about 66 KB (heap profile of 400 synthetic events), so 10,000 types in use would have
held about 650 MB of live heap for the registry alone; a loaded event now holds its plan, about
16 KB (the estimate the budget counts is within 5% of the profile). The rest of what a type in use
costs is outside the registry: franz-go's producer state for its topic (about 15 KB for 12
partitions), its metrics child, and the Go heap's headroom (RSS follows the GC goal, twice the live
heap).

Without the soft memory limit \`evctl gateway\` now sets by default (\`--memory-limit-mb 768\`), the
10,000 types in use took 1,076 MB RSS (peak 1,088 MB; one run on the s16c branch): the Go heap's
goal, twice what is live, not the live heap. The first requests of every type, and the gateway
idle after them, before the producer was
spread over Kafka clients of at most 500 topics each and the record-limit poll asked for one
config (d2a65db and before; runs by hand, not part of this script): at 10,000 events posting them
took 431 s, and with every type in use the gateway stayed at ~1.4 cores and ~2 GC cycles/s with no
request (main, 19:17 UTC). Profiled at 2,000 events (\`--pprof-addr\`, same stack, same machine):
before, 18.5 s to post them (15.3 s of CPU), then 0.14 cores and 1.1 GC/s idle; half the CPU
was franz-go refreshing the metadata of every topic in use each time it met a new one (one client:
O(N) per new topic, O(N²) in all) and the garbage that made, and the idle allocations were the
record-limit poll (kadm asks for every config of every topic with its synonyms, and its lookup
scans the answer: O(N²) per poll); after, 8.7 s (6.7 s of CPU), then 0.01 cores and 0.06 GC/s.
The stack polls the store every second (\`gateway.poll: 1s\`), so the idle numbers include ten
times the record-limit polls of the default 10 s.

Every measurement (events, mode, ready s, RSS ready/after types MB, first/second p50 ms, reload ms,
events built at reload, RSS after reload MB, peak MB, requests answered 503 and retried (Kafka slow
to answer on the loaded machine; the latency kept is the accepted attempt's), sha256 of the edited set,
RSS after all types used MB, seconds to post them, events evicted, estimated loaded MB, heap goal MB,
types left out because kfake refused every attempt, idle CPU cores after, idle GC cycles/s after,
Kafka clients):

\`\`\`
$(cat "$WORK/results.txt")
\`\`\`
<!-- bench:gateway-registry:end -->
EOF
)

write_section "$DOC" gateway-registry "$SECTION" breaking
printf '%s\n' "$SECTION" | sed -n '/^| events/,/^Goals/p' >&2
log "wrote $DOC"
