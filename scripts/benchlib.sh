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
