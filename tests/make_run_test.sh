#!/bin/sh
# `make run` leaves --listen and --db to the WEBHOOKD_* environment unless the make variables
# LISTEN or DB are given (README, "Running it"). Reads the command `make -n` would run.
set -eu
cd "$1"
failures=0

# check NAME EXPECTED_SERVE_ARGUMENTS [VAR=value...]: the arguments after `webhookd serve`.
check() {
  name=$1 expected=$2
  shift 2
  actual=$(env -u LISTEN -u DB -u WEBHOOKD_LISTEN -u WEBHOOKD_DB "$@" "${MAKE:-make}" -n -s run BUILD_DIR=build |
    sed -n 's|^build/webhookd serve *||p' | sed 's/ *$//')
  if [ "$actual" != "$expected" ]; then
    echo "FAIL $name: expected 'webhookd serve $expected', got 'webhookd serve $actual'"
    failures=$((failures + 1))
  else
    echo "ok   $name: webhookd serve $actual"
  fi
}

check "defaults" "--db sqlite:data/webhookd.db"
check "WEBHOOKD_LISTEN is left to the server" "--db sqlite:data/webhookd.db" \
  WEBHOOKD_LISTEN=127.0.0.1:9090
check "WEBHOOKD_DB is left to the server" "" WEBHOOKD_DB=sqlite:/tmp/other.db
check "make variables win" "--listen 127.0.0.1:9191 --db sqlite:/tmp/flag.db" \
  WEBHOOKD_DB=sqlite:/tmp/env.db LISTEN=127.0.0.1:9191 DB=sqlite:/tmp/flag.db
check "DATA_DIR moves the default database" "--db sqlite:/tmp/d/webhookd.db" DATA_DIR=/tmp/d
exit "$failures"
