#!/usr/bin/env bash
# `make demo`: the main job on the sample catalog, narrated. Needs nothing but Go.
set -euo pipefail
cd "$(dirname "$0")/.."
EVCTL="${EVCTL:-$PWD/.tools/bin/evctl}"
OUT=.evctl/demo
mkdir -p "$OUT"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "evctl lint: parse, compile and check every contract in contracts/"
"$EVCTL" lint

step "evctl generate: effective protos (platform fields injected) in gen/proto"
"$EVCTL" generate

step "evctl build: one deterministic FileDescriptorSet of every contract"
"$EVCTL" build -o "$OUT/contracts.binpb"

step "evctl export feed/video_played --format proto (the effective contract)"
"$EVCTL" export feed/video_played --format proto | sed -n '1,30p'

step "evctl export feed/video_played --format bigquery (what 'bq mk --schema' takes)"
"$EVCTL" export feed/video_played --format bigquery > "$OUT/video_played.bq.json"
head -c 400 "$OUT/video_played.bq.json"; echo " ..."

step "evctl export feed/video_played --format delta (a Delta metaData schemaString)"
"$EVCTL" export feed/video_played --format delta | head -c 300; echo " ..."

step "evctl export feed/video_played --format jsonschema (for browser-side validation)"
"$EVCTL" export feed/video_played --format jsonschema > "$OUT/video_played.schema.json"
echo "wrote $OUT/video_played.schema.json"

step "a broken contract is caught with file:line:column"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r evctl.yaml contracts gen "$tmp"/
sed -i 's/{name: watch_ms, type: int64, number: 2/{name: watch_ms, type: int64, number: 1/' "$tmp/contracts/feed/video_played.yaml"
(cd "$tmp" && "$EVCTL" lint) || echo "(evctl lint exited $?, as it should)"

step "done: outputs in $OUT"
