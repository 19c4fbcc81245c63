#!/usr/bin/env bash
# `make demo`: the main job on the embedded local stack, narrated. Needs nothing but Go.
# It works on a copy of the sample catalog under .evctl/demo, so the checkout stays clean, and
# gives the local stack free loopback ports so it never collides with anything already running.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
EVCTL="${EVCTL:-$PWD/.tools/bin/evctl}"
DEMO="$PWD/.evctl/demo"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo $((20000 + RANDOM % 20000)); }

rm -rf "$DEMO" && mkdir -p "$DEMO"
cp -r evctl.yaml contracts gen "$DEMO"/
mkdir -p "$DEMO/consumers" && cp examples/consumers/hd_plays.yaml "$DEMO/consumers/"
go build -o "$DEMO/receiver" ./scripts/receiver
cd "$DEMO"
KPORT=$(free_port); GPORT=$(free_port); WPORT=$(free_port)
sed -i "s/127.0.0.1:9092/127.0.0.1:$KPORT/; s/127.0.0.1:8080/127.0.0.1:$WPORT/; s/poll: 10s/poll: 1s/" evctl.yaml
# The demo commits every 2 s instead of the contract's default 30 s, so rows show up at once.
sed -i 's/^ingestion: {mode: streaming}$/ingestion: {mode: streaming, flush: 2s}/' contracts/feed/video_played.yaml
export EVCTL_DEV_GCS_ADDR="127.0.0.1:$GPORT"

step "evctl lint: parse, compile and check every contract ($(ls contracts/*/*.yaml | wc -l) events)"
"$EVCTL" lint

step "evctl build: one deterministic FileDescriptorSet of every contract"
"$EVCTL" build -o contracts.binpb

step "evctl export feed/video_played --format bigquery (the same contract, as a warehouse schema)"
"$EVCTL" export feed/video_played --format bigquery | head -c 300; echo " ..."

step "a small local HTTP receiver for the consumer consumers/hd_plays.yaml (it prints what it gets)"
./receiver > receiver.out &
RCV=$!
for _ in $(seq 1 100); do grep -q listening receiver.out 2>/dev/null && break; sleep 0.1; done
export HD_PLAYS_URL="$(sed -n 's/^listening //p' receiver.out)/hooks/hd-plays"
echo "receiver on ${HD_PLAYS_URL%/hooks/*}; the consumer reads its URL from \$HD_PLAYS_URL"

step "evctl dev: Kafka (kfake, SASL/SCRAM + ACLs), GCS (fake-gcs-server), the BigQuery emulator when installed, the gateway, ingestion, the count worker and evctl route"
"$EVCTL" dev > dev.out 2> dev.err &
DEV=$!
trap 'kill $DEV $RCV 2>/dev/null; wait $DEV $RCV 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do grep -q ready dev.out 2>/dev/null && break; sleep 0.1; done
grep -q ready dev.out || { cat dev.err; echo "evctl dev did not start" >&2; exit 1; }
cat dev.err
. .evctl/dev/env

step "evctl plan --env local (nothing exists yet)"
"$EVCTL" plan --env local | tail -4

step "evctl apply --env local --auto-approve: descriptors, team users, topics, ACLs, in order"
"$EVCTL" apply --env local --auto-approve | tail -3

step "evctl plan --env local --detailed-exitcode (live matches the repo: exit 0)"
"$EVCTL" plan --env local --detailed-exitcode | tail -1

step "the gateway turns JSON into Protobuf on Kafka (202 only after Kafka acknowledged it)"
GW="http://127.0.0.1:$WPORT"
body='{"video_id":"v1","watch_ms":"1200","quality":"HD","event_time":"2026-11-01T10:00:00Z"}'
for _ in $(seq 1 50); do
  code=$(curl -s -o /dev/null -w '%{http_code}' -XPOST "$GW/v1/events/feed/video_played" -d "$body" || true)
  [ "$code" = 202 ] && break; sleep 0.2
done
echo "POST /v1/events/feed/video_played $body"
curl -s -XPOST "$GW/v1/events/feed/video_played" -d "$body"; echo
echo "POST /v1/events/feed/video_played with watch_ms as text:"
curl -s -XPOST "$GW/v1/events/feed/video_played" -d '{"video_id":"v1","watch_ms":"soon","event_time":"2026-11-01T10:00:00Z"}'; echo

step "consumers as code: evctl route delivers each HD play, rendered by consumers/hd_plays.yaml's template"
sed -n '/^where:/,/^  http:/p' consumers/hd_plays.yaml
for i in 2 3 4; do
  curl -s -o /dev/null -XPOST "$GW/v1/events/feed/video_played" -d "{\"video_id\":\"v$i\",\"watch_ms\":\"${i}000\",\"quality\":\"HD\",\"event_time\":\"2026-11-01T10:00:0${i}Z\"}"
done
curl -s -o /dev/null -XPOST "$GW/v1/events/feed/video_played" -d '{"video_id":"v9","watch_ms":"10","quality":"SD","event_time":"2026-11-01T10:00:09Z"}'
for _ in $(seq 1 100); do [ "$(grep -c '^POST' receiver.out)" -ge 4 ] && break; sleep 0.2; done
echo "the receiver got (method, evctl-event, Idempotency-Key, body; the SD play was filtered out):"
grep '^POST' receiver.out | head -5

step "evctl dev also runs ingestion: the events just posted land in the local Delta table"
TABLE=.evctl/lake/feed/video_played_v1
for _ in $(seq 1 100); do ls "$TABLE/_delta_log/00000000000000000001.json" >/dev/null 2>&1 && break; sleep 0.2; done
echo "$TABLE/_delta_log: $(ls "$TABLE/_delta_log" | tr '\n' ' ')"
grep -h '"txn"' "$TABLE"/_delta_log/*.json | head -2
if [ -d "$ROOT/.tools/duckdb/node_modules/@duckdb/node-api" ]; then
  echo "read back by DuckDB (not evctl):"
  DUCKDB_NODE_DIR="$ROOT/.tools/duckdb" node "$ROOT/pkg/data/ingest/delta/testdata/readdelta.cjs" "$TABLE" \
    "SELECT event_date, video_id, watch_ms, quality, event_id FROM t ORDER BY event_id"
else
  echo "the table's data files (scripts/install-duckdb.sh installs DuckDB for Node to read them back):"
  find "$TABLE" -name '*.parquet' | head -3
fi

step "... and in the BigQuery emulator: streaming through the Storage Write API, read back with its query API (REST)"
if [ -n "${BIGQUERY_EMULATOR_HOST:-}" ]; then
  q='{"useLegacySql":false,"query":"SELECT video_id, watch_ms, quality, event_id FROM `local.events.feed__video_played_v1` ORDER BY event_time, video_id"}'
  for _ in $(seq 1 100); do
    out=$(curl -s -XPOST "http://$BIGQUERY_EMULATOR_HOST/bigquery/v2/projects/local/queries" -H 'Content-Type: application/json' -d "$q" || true)
    n=$(printf '%s' "$out" | sed -n 's/.*"totalRows":"\([0-9]*\)".*/\1/p')
    [ "${n:-0}" -ge 6 ] && break # the 6 video_played events accepted above
    sleep 0.2
  done
  echo "POST http://$BIGQUERY_EMULATOR_HOST/bigquery/v2/projects/local/queries  SELECT ... FROM local.events.feed__video_played_v1"
  printf '%s' "$out" | python3 -c '
import json, sys
r = json.load(sys.stdin)
cols = [f["name"] for f in r["schema"]["fields"]]
print("  ".join(c.ljust(14) for c in cols))
for row in r.get("rows", []):
    print("  ".join(str(c.get("v")).ljust(14) for c in row["f"]))
print(r.get("totalRows"), "rows")' 2>/dev/null || printf '%s\n' "$out"
else
  grep '^bigquery' dev.err || echo "bigquery: no emulator (scripts/install-bigquery-emulator.sh installs it); skipped"
fi

step "engagement counters: 105 likes of post p_1 through the gateway; evctl dev runs the count worker"
grep -A9 '^counters:' contracts/posts/post_liked.yaml
for i in $(seq 1 105); do
  printf '{"event":"posts/post_liked","data":{"post_id":"p_1","liker_id":"u_%d","liked":true,"event_time":"2026-11-01T10:00:00Z"}}\n' "$i"
done > likes.ndjson
curl -s -XPOST "$GW/v1/batch" --data-binary @likes.ndjson; echo
echo "waiting for the 5 s window to close (one store write for p_1, not 105):"
for _ in $(seq 1 150); do
  v=$(curl -s "$GW/v1/counters/post_likes/p_1" || true)
  case "$v" in *'"value":105'*) break ;; esac
  sleep 0.2
done
echo "GET /v1/counters/post_likes/p_1 -> $v"
echo "evctl counters get post_likes p_1 p_2 --env local:"
"$EVCTL" counters get post_likes p_1 p_2 --env local
echo "the milestone (evctl.counters.v1.Milestone on local.counters.milestones), as the worker logged it:"
grep 'milestone reached' dev.err | tail -1

step "change video_played's retention from 7d to 3d, then plan (exit 2: changes)"
sed -i 's/retention: 7d, key: \[video_id\]/retention: 3d, key: [video_id]/' contracts/feed/video_played.yaml
set +e; "$EVCTL" plan --env local --detailed-exitcode; code=$?; set -e
echo "(exit $code)"

step "evctl apply, then evctl status --env local feed/video_played"
"$EVCTL" apply --env local --auto-approve | tail -2
"$EVCTL" status --env local feed/video_played

step "evolve payments/subscription_renewed (staging, a raw .proto): add a nullable field"
sed -i 's/^  map<string, string> perks = 10;/  map<string, string> perks = 10;\n  \/\/ Coupon applied to this renewal, if any.\n  optional string coupon_code = 11;/' contracts/payments/subscription_renewed.proto
"$EVCTL" generate >/dev/null
set +e; "$EVCTL" plan --env local --detailed-exitcode | grep -v '^  *\(configs\|acl\|scram\)' ; set -e
"$EVCTL" apply --env local --auto-approve | tail -1
echo "the Delta table's log now has a second commit with the new schema:"
ls .evctl/lake/payments/subscription_renewed_v1/_delta_log/

step "a broken contract is caught with file:line:column"
sed -i 's/{name: watch_ms, type: int64, number: 2/{name: watch_ms, type: int64, number: 1/' contracts/feed/video_played.yaml
"$EVCTL" lint || echo "(evctl lint exited $?, as it should)"

step "done; the stack stops now (its data stays in $DEMO/.evctl/dev)"
