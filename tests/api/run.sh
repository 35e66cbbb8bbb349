#!/usr/bin/env bash
# tests/api/run.sh: the management API against its OpenAPI document
# (worker/openapi.json): openapi-spec-validator checks the document, a
# running hookbridge (API on, the real broker of HOOKBRIDGE_TEST_BROKERS,
# an operator token, free loopback ports) serves it byte for byte at
# /v1/openapi.json, and schemathesis throws generated requests at every
# operation: no 5xx, every status, content type and body as documented.
#
#   tests/api/run.sh [BUILD_DIR]     (default build; its hookbridge, or
#                                     $HB_API_HOOKBRIDGE)
#
# The Python tools come pinned from tests/api/requirements.txt into a venv
# under ~/.cache (or $HB_API_VENV), made once per requirements file.
# HB_API_EXAMPLES (default 30) bounds the examples per operation,
# HB_API_SEED fixes schemathesis' seed (printed either way).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
build=$(cd "${1:-build}" && pwd)
hb=${HB_API_HOOKBRIDGE:-$build/hookbridge}
brokers=${HOOKBRIDGE_TEST_BROKERS:?set HOOKBRIDGE_TEST_BROKERS (tests/kafka/kafka.sh env)}
examples=${HB_API_EXAMPLES:-30}
seed=${HB_API_SEED:-$RANDOM$RANDOM}
doc=$root/worker/openapi.json

say() { printf 'api: %s\n' "$*"; }

# --- the tools ---------------------------------------------------------------
req=$root/tests/api/requirements.txt
venv=${HB_API_VENV:-$HOME/.cache/hookbridge/api-venv-$(sha256sum "$req" | cut -c1-12)}
if [ ! -x "$venv/bin/schemathesis" ] || [ ! -x "$venv/bin/openapi-spec-validator" ]; then
        say "installing the pinned tools into $venv"
        rm -rf "$venv"
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q --disable-pip-version-check -r "$req"
fi

# --- the document ------------------------------------------------------------
"$venv/bin/openapi-spec-validator" "$doc"

# --- a running hookbridge ----------------------------------------------------
work=$build/api-test
rm -rf "$work" && mkdir -p "$work"
read -r port admin < <(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*(x.getsockname()[1] for x in s))')
tag=hb-api-$$-$(date +%s)
token=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
key=$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')
# the events topic must exist for the consumer, the dead-letter topic for
# redrive's window: one (invalid) message makes each
for t in events dlq; do
        printf '{}\n' | kcat -P -b "$brokers" -t "$tag-$t" 2>/dev/null
done
cat >"$work/hookbridge.cfg" <<EOF
kafka = { brokers = "$brokers"; group_id = "$tag"; topics = ( "$tag-events" ); };
delivery = {
  timeout_ms = 2000; connect_timeout_ms = 1000;
  dead_letter_topic = "$tag-dlq";
  retry = { max_attempts = 1; schedule = [ ]; };
};
admin = { listen = "127.0.0.1:$admin"; };
api = {
  listen = "127.0.0.1:$port";
  token_env = "HB_API_TEST_TOKEN";
  secret_key_env = "HB_API_TEST_KEY";
  store_topic = "$tag-store";
};
webhooks = ( );
EOF
say "hookbridge ($hb) on 127.0.0.1:$port, admin :$admin, store $tag-store"
HB_API_TEST_TOKEN=$token HB_API_TEST_KEY=$key \
        "$hb" run -c "$work/hookbridge.cfg" 2>"$work/hookbridge.log" &
pid=$!
stop() {
        if kill -0 "$pid" 2>/dev/null; then
                kill -TERM "$pid" 2>/dev/null || true
                wait "$pid" 2>/dev/null || true
        fi
}
trap stop EXIT
fail() {
        echo "api: FAILED: $*" >&2
        tail -n 30 "$work/hookbridge.log" >&2
        exit 1
}

base=http://127.0.0.1:$port
for _ in $(seq 600); do
        curl -sf -o /dev/null "http://127.0.0.1:$admin/readyz" && break
        kill -0 "$pid" 2>/dev/null || fail "hookbridge exited"
        sleep 0.1
done
curl -sf -o /dev/null "http://127.0.0.1:$admin/readyz" || fail "not ready in 60 s"
curl -sf -H "Authorization: Bearer $token" -o "$work/served.json" \
        "$base/v1/openapi.json" || fail "GET /v1/openapi.json"
cmp -s "$work/served.json" "$doc" ||
        fail "/v1/openapi.json is not worker/openapi.json byte for byte"
say "GET /v1/openapi.json serves worker/openapi.json ($(wc -c <"$doc") bytes)"

# --- schemathesis --------------------------------------------------------------
say "schemathesis: up to $examples examples per operation, seed $seed"
checks=not_a_server_error,response_schema_conformance
checks+=,status_code_conformance,content_type_conformance
# Operations in the document whose handlers have not landed yet (501, or
# 404 from the router) are listed here, left out of the run until they do.
pending=()
skip=()
for op in "${pending[@]}"; do
        skip+=(--exclude-operation-id "$op")
done
rc=0
(cd "$work" && timeout 900 "$venv/bin/schemathesis" --no-color run "$doc" \
        --url "$base" -H "Authorization: Bearer $token" \
        --checks "$checks" --max-examples "$examples" --seed "$seed" \
        "${skip[@]}" --workers 1 --request-timeout 10 \
        --report junit --report-dir "$work/report") \
        >"$work/schemathesis.out" 2>&1 || rc=$?
tail -n 40 "$work/schemathesis.out"
kill -0 "$pid" 2>/dev/null || fail "hookbridge died during the run"
[ "$rc" = 0 ] || fail "schemathesis: exit $rc (seed $seed; $work/schemathesis.out)"

# --- a clean stop --------------------------------------------------------------
kill -TERM "$pid"
st=0
wait "$pid" || st=$?
trap - EXIT
[ "$st" = 0 ] || fail "hookbridge exit status $st after SIGTERM"
say "passed"
