#!/usr/bin/env bash
# Checks the HTTP API against docs/openapi.yaml with schemathesis (`--checks all`): every response's status, headers,
# content type and body as documented, spec-valid requests accepted, spec-invalid ones refused, undeclared methods 405.
# Starts `tgdm serve` on a free loopback port with a token (so the spec's security is exercised too), the bundled
# generator exported at 1 sampling step and a 5-second job timeout (jobs the fuzzer submits finish or stop quickly),
# runs a small fixed number of examples per operation with a fixed seed, and exits non-zero on any failure or on an
# error in the server's log. Needs the debug build (.build/debug/tgdm) and PyPI once (schemathesis goes into a
# virtualenv under ~/.cache/tgdm/venv-schemathesis).
#
#   bash scripts/api_schema_check.sh     # TGDM_SCHEMA_EXAMPLES=N, TGDM_SCHEMA_SEED=S: other examples per operation, seed
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TGDM=${TGDM_BIN:-$ROOT/.build/debug/tgdm}
SCHEMATHESIS_VERSION=4.32.5
VENV=${TGDM_SCHEMATHESIS_VENV:-$HOME/.cache/tgdm/venv-schemathesis}
EXAMPLES=${TGDM_SCHEMA_EXAMPLES:-12}
SEED=${TGDM_SCHEMA_SEED:-19}

[[ -x $TGDM ]] || { echo "api_schema_check: $TGDM is missing (swift build first)" >&2; exit 1; }
if [[ ! -x $VENV/bin/schemathesis ]] || [[ $("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("schemathesis"))' 2>/dev/null) != "$SCHEMATHESIS_VERSION" ]]; then
    echo "api_schema_check: installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

WORK=$(mktemp -d /tmp/tgdm-api-check.XXXXXX)
SERVER_PID=
cleanup() {
    if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -INT "$SERVER_PID"
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# The bundled generator with 1 sampling step: a job costs one UNet evaluation per batch of frames.
"$TGDM" eval export --checkpoint Models/tgdm/tgdm_synth64_warp.safetensors -o "$WORK/model.safetensors" --steps 1 >/dev/null

# Rules of POST /v1/jobs that no JSON schema can state (a file or a sample name; a file's content, sniffed; the
# sample names the server has) are answered with their documented 400/415/422 (docs/openapi.yaml says so): a request
# the schema allows may meet them. Everything else keeps schemathesis's default expectations.
cat > "$WORK/schemathesis.toml" <<'TOML'
[[operations]]
include-path = "/v1/jobs"
include-method = "POST"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "403", "404", "409", "415", "422", "429"]
TOML

TOKEN=api-check-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
OMP_NUM_THREADS=1 TGDM_TOKEN=$TOKEN "$TGDM" serve --host 127.0.0.1 --port 0 --data "$WORK/data" --model "$WORK/model.safetensors" \
    --threads 1 --queue 4 --job-timeout 5 --log-format json --log-level warning > "$WORK/serve.out" 2> "$WORK/serve.err" &
SERVER_PID=$!
PORT=
for _ in $(seq 1 600); do   # the first stdout line names the port (safety net: 60 s)
    PORT=$(sed -n 's|.*http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$WORK/serve.out" | head -1)
    [[ -n $PORT ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/serve.err" >&2; echo "api_schema_check: the server did not start" >&2; exit 1; }
    sleep 0.1
done
[[ -n $PORT ]] || { echo "api_schema_check: no port after 60 s" >&2; exit 1; }

start=$(date +%s)
status=0
# Run from the scratch folder: schemathesis and hypothesis keep their state in the working directory.
(cd "$WORK" && "$VENV/bin/schemathesis" --no-color --config-file "$WORK/schemathesis.toml" run "$ROOT/docs/openapi.yaml" \
    --url "http://127.0.0.1:$PORT" --checks all --header "Authorization: Bearer $TOKEN" --max-examples "$EXAMPLES" --seed "$SEED" \
    --workers 1 --request-timeout 30 --suppress-health-check all) || status=$?
echo "api_schema_check: schemathesis took $(( $(date +%s) - start )) s (exit $status)"
if ! kill -0 "$SERVER_PID" 2>/dev/null; then echo "api_schema_check: the server died" >&2; cat "$WORK/serve.err" >&2; exit 1; fi
# A 5xx or any other error the server logged fails the check even where schemathesis let it pass.
if grep -q '"level":"\(error\|critical\)"' "$WORK/serve.err"; then
    echo "api_schema_check: the server logged errors:" >&2
    grep '"level":"\(error\|critical\)"' "$WORK/serve.err" | head -20 >&2
    status=1
fi
exit $status
