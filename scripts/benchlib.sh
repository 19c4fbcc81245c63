# Sourced by the bench scripts (after they define log and ROOT): what they all need, and the
# writer of their sections of docs/benchmarks.md.

# need_gnu_time: GNU time at $TIME (wall time and peak RSS of a whole process in one line),
# installed from Debian's package when missing.
need_gnu_time() {
  "$TIME" -f '%e %M' true >/dev/null 2>&1 && return
  log "installing GNU time (apt-get install time)"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get install -y -qq time >/dev/null || { $sudo apt-get update -qq && $sudo apt-get install -y -qq time >/dev/null; }
  "$TIME" -f '%e %M' true >/dev/null 2>&1 || { log "GNU time is needed at $TIME"; exit 1; }
}

# need_evctl: $EVCTL, built from this checkout into .tools/bin unless given.
need_evctl() {
  [ -n "${EVCTL:-}" ] && return
  EVCTL="$ROOT/.tools/bin/evctl"
  log "building $EVCTL"
  go build -o "$EVCTL" ./cmd/evctl
}

# need_buf: $BUF (default .tools/bin/buf), installed by scripts/install-tools.sh when missing.
need_buf() {
  BUF="${BUF:-${EVCTL_BUF:-$ROOT/.tools/bin/buf}}"
  [ -x "$BUF" ] || "$ROOT/scripts/install-tools.sh"
}

#   write_section DOC NAME SECTION [BEFORE]
#
# SECTION is the whole text, its first line <!-- bench:NAME:start --> and its last
# <!-- bench:NAME:end -->. It replaces the text between those markers in DOC, leaving the rest of
# the file alone; the first time, it goes just before the line <!-- bench:BEFORE:start --> when
# BEFORE is given and present, else at the end. DOC is created when missing.
write_section() {
  local doc=$1 name=$2 section=$3 before=${4:-}
  mkdir -p "$(dirname "$doc")"
  [ -f "$doc" ] || printf '# Benchmarks\n\nNumbers come from `make bench`; each section names the command that produced it.\n' > "$doc"
  printf '%s\n' "$section" > "$doc.section"
  if grep -q "<!-- bench:$name:start -->" "$doc"; then
    awk -v section_file="$doc.section" -v start="<!-- bench:$name:start -->" -v end="<!-- bench:$name:end -->" '
      $0 == start { while ((getline line < section_file) > 0) print line; skip = 1; next }
      $0 == end { skip = 0; next }
      !skip { print }' "$doc" > "$doc.tmp"
  elif [ -n "$before" ] && grep -q "<!-- bench:$before:start -->" "$doc"; then
    awk -v section_file="$doc.section" -v at="<!-- bench:$before:start -->" '
      $0 == at { while ((getline line < section_file) > 0) print line; print "" }
      { print }' "$doc" > "$doc.tmp"
  else
    { cat "$doc"; printf '\n'; cat "$doc.section"; } > "$doc.tmp"
  fi
  mv "$doc.tmp" "$doc"
  rm -f "$doc.section"
}

# free_port: a free loopback TCP port.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# dev_stack DIR REPO POLL WAIT: a copy of REPO's contracts in DIR (the working directory after)
# with its own free ports, the local environment only (no BigQuery or Delta), the gateway's
# descriptor poll set to POLL, and `evctl dev` running in it (pid in DEV; waited for up to WAIT
# seconds) with its variables exported.
dev_stack() {
  local dir=$1 repo=$2 poll=$3 wait=$4 kport gport wport
  rm -rf "$dir" && mkdir -p "$dir"
  cp -r "$repo/evctl.yaml" "$repo/contracts" "$repo/gen" "$dir"/
  cd "$dir"
  kport=$(free_port); gport=$(free_port); wport=$(free_port)
  sed -i -e "s/127.0.0.1:9092/127.0.0.1:$kport/; s/127.0.0.1:8080/127.0.0.1:$wport/" \
    -e "s/poll: 10s/poll: $poll/" \
    -e '/endpoint_env: BIGQUERY_EMULATOR_HOST/d' -e '/delta: {url: "file:\/\/.evctl\/lake"}/d' evctl.yaml
  EVCTL_DEV_GCS_ADDR="127.0.0.1:$gport" "$EVCTL" dev > dev.out 2> dev.err &
  DEV=$!
  for _ in $(seq 1 $((wait * 10))); do grep -q ready dev.out 2>/dev/null && break; sleep 0.1; done
  grep -q ready dev.out || { cat dev.err >&2; log "evctl dev did not start"; exit 1; }
  set -a; . .evctl/dev/env; set +a
}
