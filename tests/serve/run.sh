#!/usr/bin/env bash
# tests/serve/run.sh: `pcrvm serve` end to end. Starts real servers on
# 127.0.0.1 (a free port chosen by the kernel, read from the "listening"
# log line), drives them with curl and with raw sockets (bash /dev/tcp), and
# checks statuses, bodies, logs, reloads, shutdown and stalled clients.
# Traffic goes to loopback only; every wait is bounded; every server
# started is stopped (the EXIT trap kills what a failed check left).
#
#   PCR_BIN=bin PCR_ROOT=. bash tests/serve/run.sh
#
# The last line is "serve: N passed, N failed"; exit 1 on any failure.
set -u
BIN=${PCR_BIN:-bin}
ROOT=${PCR_ROOT:-$(pwd)}
cd "$ROOT" || exit 2
for tool in curl sha256sum; do
    command -v $tool >/dev/null 2>&1 || { echo "serve: $tool is missing" >&2; exit 2; }
done
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pcr-serve.XXXXXX") || exit 2
PIDS=""
cleanup() {
    for p in $PIDS; do kill -KILL "$p" 2>/dev/null; done
    if [ -n "${PCR_SERVE_KEEP:-}" ]; then echo "serve: kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
trap '' PIPE # writes to a socket the server closed fail with EPIPE instead

passed=0
failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }
check() { # check NAME COMMAND...: passes when the command succeeds
    local name=$1
    shift
    if "$@"; then ok; else bad "$name"; fi
}
same() { # same NAME FILE1 FILE2
    if cmp -s "$2" "$3"; then ok; else bad "$1: $2 and $3 differ"; diff "$2" "$3" | head -5; fi
}
eq() { # eq NAME GOT WANT
    if [ "$2" = "$3" ]; then ok; else bad "$1: got '$2', want '$3'"; fi
}

# start NAME ARGS...: starts a server; sets PID, PORT, URL and LOG.
start() {
    local name=$1
    shift
    LOG=$WORK/$name.log
    : >"$LOG" # the background job opens it itself, perhaps after the first sed below
    "$BIN/pcrvm" serve --listen 127.0.0.1:0 "$@" 2>"$LOG" &
    PID=$!
    PIDS="$PIDS $PID"
    PORT=""
    for _ in $(seq 1 300); do
        PORT=$(sed -n 's/.*"event":"listening","listen":"127.0.0.1:\([0-9]*\)".*/\1/p' "$LOG")
        [ -n "$PORT" ] && break
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.1
    done
    URL=http://127.0.0.1:$PORT
    [ -n "$PORT" ] || { bad "$name: server did not start"; cat "$LOG"; }
}

# stop: SIGTERM, then waits (at most 30 s) for the exit status in STATUS.
stop() {
    kill -TERM "$PID" 2>/dev/null
    waitfor "$PID"
}
waitfor() {
    local pid=$1
    for _ in $(seq 1 300); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        bad "server $pid did not exit within 30 s"
        kill -KILL "$pid"
    fi
    wait "$pid"
    STATUS=$?
}

# until_log PATTERN: waits (at most 30 s) for a log line matching PATTERN.
until_log() {
    for _ in $(seq 1 300); do
        grep -q "$1" "$LOG" && return 0
        sleep 0.1
    done
    return 1
}

code() { # code ARGS...: the HTTP status of a curl request (body to $WORK/body)
    curl -s -o "$WORK/body" -w '%{http_code}' --max-time 30 "$@"
}

NDJSON='Content-Type: application/x-ndjson'
JSON='Content-Type: application/json'
REQS=policies/examples/requests.jsonl

# ---- the four payers, compiled --------------------------------------------
for p in policies/alliant.pcr policies/cigna.pcr policies/healthlink.pcr policies/ibx.pcr; do
    "$BIN/pcrc" "$p" -o "$WORK/$(basename "$p" .pcr).pcrb" || { echo "serve: pcrc $p failed"; exit 1; }
done
PCRBS="$WORK/alliant.pcrb $WORK/cigna.pcrb $WORK/healthlink.pcrb $WORK/ibx.pcrb"
"$BIN/pcrvm" $PCRBS "$REQS" >"$WORK/want.jsonl"

start payers --threads 2 $PCRBS

# Decisions: byte-identical to pcrvm's, for the whole batch and per record.
eq "decide batch status" "$(code -H "$NDJSON" --data-binary @"$REQS" "$URL/v1/decide")" 200
same "decide batch = pcrvm" "$WORK/body" "$WORK/want.jsonl"
curl -s -D "$WORK/headers" -o /dev/null -H "$NDJSON" --data-binary @"$REQS" "$URL/v1/decide"
check "decide content type" grep -qi '^Content-Type: application/x-ndjson' "$WORK/headers"
head -5 "$REQS" | tail -1 >"$WORK/one.json"
sed -n 5p "$WORK/want.jsonl" | sed 's/"error":"record [0-9]*:/"error":"record 1:/' >"$WORK/one.want"
eq "decide one json" "$(code -H "$JSON" --data-binary @"$WORK/one.json" "$URL/v1/decide")" 200
same "decide one json = pcrvm" "$WORK/body" "$WORK/one.want"
# application/json: one record, whatever its layout.
printf '{\n  "id": "hl-001",\n  "payer": "healthlink", "network": "in",\n  "setting": "ambulatory_surgery",\n  "code": "43770", "diagnoses": ["E66.01", "Z68.41"], "state": "IL",\n  "member_age": 44, "service_date": "2022-03-14", "requested_at": "2022-02-28T10:12"\n}\n' >"$WORK/pretty.json"
head -1 "$WORK/want.jsonl" >"$WORK/pretty.want"
code -H "$JSON" --data-binary @"$WORK/pretty.json" "$URL/v1/decide" >/dev/null
same "decide pretty json = pcrvm" "$WORK/body" "$WORK/pretty.want"
# Malformed records get error lines, numbered as pcrvm numbers them; none is lost.
printf 'garbage\n\n{"id":"a"}\n[1,2]\n{"id":"b","payer":"cigna"' >"$WORK/bad.jsonl"
"$BIN/pcrvm" $PCRBS "$WORK/bad.jsonl" >"$WORK/bad.want"
eq "decide malformed status" "$(code -H "$NDJSON" --data-binary @"$WORK/bad.jsonl" "$URL/v1/decide")" 200
same "decide malformed = pcrvm" "$WORK/body" "$WORK/bad.want"
eq "decide malformed lines" "$(wc -l <"$WORK/body")" 5

# Errors: JSON bodies with the right status.
eq "404" "$(code "$URL/v2/nothing")" 404
check "404 body" grep -q '"status":404' "$WORK/body"
eq "405" "$(code "$URL/v1/decide")" 405
curl -s -D "$WORK/headers" -o /dev/null "$URL/v1/decide"
check "405 Allow" grep -qi '^Allow: POST' "$WORK/headers"
eq "405 GET only" "$(code -X DELETE "$URL/healthz")" 405
eq "415 text" "$(code -H 'Content-Type: text/plain' --data-binary @"$REQS" "$URL/v1/decide")" 415
eq "415 none" "$(code -H 'Content-Type:' --data-binary @"$REQS" "$URL/v1/decide")" 415
eq "400 empty" "$(code -H "$NDJSON" -X POST "$URL/v1/decide")" 400
check "400 body is JSON" grep -q '"error":' "$WORK/body"

# GET endpoints.
eq "healthz" "$(code "$URL/healthz")" 200
check "healthz body" grep -q '"status":"ok","generation":1,"policies":4' "$WORK/body"
eq "policies" "$(code "$URL/v1/policies")" 200
cp "$WORK/body" "$WORK/policies.json"
for p in alliant cigna healthlink ibx; do
    sum=$(sha256sum "$WORK/$p.pcrb" | cut -d' ' -f1)
    check "policies sha256 $p" grep -q "\"id\":\"$p\",[^}]*\"sha256\":\"$sum\"" "$WORK/policies.json"
done
check "policies window" grep -q '"id":"healthlink","version":"2022-01-01","payer":"healthlink","effective_from":"2022-01-01"' "$WORK/policies.json"
eq "metrics" "$(code "$URL/metrics")" 200
cp "$WORK/body" "$WORK/metrics.txt"
# Two batches and one record so far went through /v1/decide: count them.
for k in prior_auth none notification info_needed no_policy; do
    n=$(grep -c "\"decision\":\"$k\"" "$WORK/want.jsonl")
    n1=$(grep -c "\"decision\":\"$k\"" "$WORK/one.want")
    n2=$(grep -c "\"decision\":\"$k\"" "$WORK/pretty.want")
    n3=$(grep -c "\"decision\":\"$k\"" "$WORK/bad.want")
    check "metrics decisions $k" grep -qx "pcr_decisions_total{decision=\"$k\"} $((2 * n + n1 + n2 + n3))" "$WORK/metrics.txt"
done
check "metrics 404" grep -qx 'pcr_http_requests_total{path="other",status="404"} 1' "$WORK/metrics.txt"
check "metrics 415" grep -qx 'pcr_http_requests_total{path="/v1/decide",status="415"} 2' "$WORK/metrics.txt"
check "metrics histogram" grep -q '^pcr_http_request_duration_seconds_bucket{path="/v1/decide",le="+Inf"} ' "$WORK/metrics.txt"
sum=$(sha256sum "$WORK/ibx.pcrb" | cut -d' ' -f1)
check "metrics checksum" grep -q "^pcr_policy_info{id=\"ibx\",.*sha256=\"$sum\"} 1" "$WORK/metrics.txt"

# Keep-alive: two requests on one connection (the second opens none).
eq "keep-alive" "$(curl -s -o /dev/null -o /dev/null -w '%{num_connects}' "$URL/healthz" "$URL/healthz")" 10

# Bodies over the limit: 413, declared or chunked.
start small --threads 1 --max-body 4096 $PCRBS
head -c 10000 "$REQS" >"$WORK/big.jsonl"
eq "413 declared" "$(code -H "$NDJSON" --data-binary @"$WORK/big.jsonl" "$URL/v1/decide")" 413
eq "413 chunked" "$(code -H "$NDJSON" -H 'Transfer-Encoding: chunked' --data-binary @"$WORK/big.jsonl" "$URL/v1/decide")" 413
head -c 4000 "$REQS" | sed '$d' >"$WORK/fits.jsonl"
eq "under the limit" "$(code -H "$NDJSON" --data-binary @"$WORK/fits.jsonl" "$URL/v1/decide")" 200
eq "under the limit lines" "$(wc -l <"$WORK/body")" "$(wc -l <"$WORK/fits.jsonl")"
stop
eq "small exit" "$STATUS" 0

# The access log: one JSON line per request, with the records counted.
PID_PAYERS=$(echo $PIDS | cut -d' ' -f1)
LOG=$WORK/payers.log
NREQS=$(wc -l <"$REQS" | tr -d ' ')
check "access log batch" grep -q '"method":"POST","path":"/v1/decide","status":200,"records":'"$NREQS"',"us":[0-9]*}' "$LOG"
check "access log 404" grep -q '"method":"GET","path":"/v2/nothing","status":404,"records":0' "$LOG"
check "access log time" grep -q '^{"time":"20[0-9-]*T[0-9:.]*Z","method":"GET","path":"/healthz","status":200' "$LOG"

# ---- connections opened together are spread over the workers ---------------------
# (the accepting thread hands connection k to worker k % 2; MHD's own
# listening socket gave a burst to whichever worker woke first)
start spread --threads 2 $PCRBS
fds=""
for i in 1 2 3 4 5 6 7 8; do
    exec {fd}<>"/dev/tcp/127.0.0.1/$PORT"
    fds="$fds $fd"
done
for fd in $fds; do printf 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n' >&"$fd"; done
for fd in $fds; do timeout 10 head -1 <&"$fd" | grep -q ' 200 ' || bad "spread: no answer on $fd"; done
curl -s "$URL/metrics" | grep '^pcr_http_worker_requests_total' >"$WORK/workers.txt"
eq "spread: two workers served" "$(wc -l <"$WORK/workers.txt")" 2
check "spread: each worker served at least 3 of the 8" \
    awk '$2 < 3 {bad = 1} END {exit bad}' "$WORK/workers.txt"
for fd in $fds; do exec {fd}>&-; done
stop
eq "spread exit" "$STATUS" 0

# ---- a stalled client holds a connection, not a worker ------------------------
start slow --threads 1 --idle-timeout 1 --read-timeout 2 $PCRBS
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
printf 'POST /v1/decide HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\n' >&3
eq "stalled headers: others served" "$(code "$URL/healthz")" 200
t0=$SECONDS
timeout 20 cat <&3 >/dev/null
check "stalled headers: closed by the server" [ $((SECONDS - t0)) -lt 20 ]
exec 3<&-
exec 3>&-
# A body dripped one byte a second outlives --read-timeout: the connection
# is closed before the body is complete.
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
printf 'POST /v1/decide HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\nContent-Length: 30\r\n\r\n' >&3
drip_ok=1
for i in $(seq 1 30); do
    printf 'x' >&3 2>/dev/null || { drip_ok=0; break; }
    [ "$(code "$URL/healthz")" = 200 ] || drip_ok=2
    sleep 0.5
done
check "dripping body: cut off by --read-timeout" [ "$drip_ok" = 0 ]
exec 3>&- 2>/dev/null
check "dripping body: logged 408" until_log '"status":408'
stop
eq "slow exit" "$STATUS" 0

# ---- SIGHUP: reload, good and bad; .pcr sources compiled on load --------------
cp policies/examples/demo.pcr "$WORK/demo.pcr"
start reload --threads 2 "$WORK/demo.pcr"
"$BIN/pcrvm" "$WORK/demo.pcr" policies/examples/demo-requests.jsonl >"$WORK/demo.want"
code -H "$NDJSON" --data-binary @policies/examples/demo-requests.jsonl "$URL/v1/decide" >/dev/null
same "demo = pcrvm" "$WORK/body" "$WORK/demo.want"
sed 's/version "2026.1"/version "2026.2"/' policies/examples/demo.pcr >"$WORK/demo.pcr.new"
mv "$WORK/demo.pcr.new" "$WORK/demo.pcr"
"$BIN/pcrc" "$WORK/demo.pcr" -o "$WORK/demo2.pcrb"
sum2=$(sha256sum "$WORK/demo2.pcrb" | cut -d' ' -f1)
kill -HUP "$PID"
check "reload logged" until_log '"event":"reload","ok":true,"generation":2'
code "$URL/v1/policies" >/dev/null
check "reload: new version" grep -q "\"version\":\"2026.2\",.*\"sha256\":\"$sum2\"" "$WORK/body"
check "reload: generation 2" grep -q '"generation":2' "$WORK/body"
code -H "$NDJSON" --data-binary @policies/examples/demo-requests.jsonl "$URL/v1/decide" >/dev/null
sed 's/"demo@2026.1"/"demo@2026.2"/g' "$WORK/demo.want" >"$WORK/demo2.want"
same "decide after reload" "$WORK/body" "$WORK/demo2.want"
printf 'policy broken {\n' >"$WORK/demo.pcr"
kill -HUP "$PID"
check "bad reload logged" until_log '"event":"reload","ok":false,"error":"[^"]*demo.pcr'
check "bad reload: old kept" grep -q '"kept_generation":2' "$LOG"
code -H "$NDJSON" --data-binary @policies/examples/demo-requests.jsonl "$URL/v1/decide" >/dev/null
same "decide after bad reload" "$WORK/body" "$WORK/demo2.want"
eq "healthz after bad reload" "$(code "$URL/healthz")" 200
check "metrics reloads" sh -c "curl -s '$URL/metrics' | grep -qx 'pcr_reloads_total{result=\"failed\"} 1'"
# Reloads under traffic: every answer complete and from one generation.
(for _ in $(seq 1 5); do kill -HUP "$PID"; sleep 0.05; done) &
hup=$!
sed 's/version "2026.1"/version "2026.2"/' policies/examples/demo.pcr >"$WORK/demo.pcr"
torn=0
for _ in $(seq 1 20); do
    code -H "$NDJSON" --data-binary @policies/examples/demo-requests.jsonl "$URL/v1/decide" >/dev/null
    cmp -s "$WORK/body" "$WORK/demo2.want" || torn=$((torn + 1))
done
wait $hup
eq "decisions during reloads" "$torn" 0
stop
eq "reload exit" "$STATUS" 0

# ---- SIGTERM with a request in flight ----------------------------------------
start term --threads 2 $PCRBS
head -3 "$REQS" >"$WORK/three.jsonl"
head -3 "$WORK/want.jsonl" >"$WORK/three.want"
len=$(wc -c <"$WORK/three.jsonl")
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
printf 'POST /v1/decide HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\nContent-Length: %d\r\n\r\n' "$len" >&3
head -c 100 "$WORK/three.jsonl" >&3
sleep 0.3
kill -TERM "$PID"
check "term: stopping logged" until_log '"event":"stopping"'
check "term: still running while a request is in flight" kill -0 "$PID"
eq "term: new connections refused" "$(code "$URL/healthz")" 000
tail -c +101 "$WORK/three.jsonl" >&3
timeout 20 cat <&3 >"$WORK/term.resp"
exec 3<&- 3>&-
check "term: in-flight request answered" grep -q '^HTTP/1.1 200' "$WORK/term.resp"
sed '1,/^\r$/d' "$WORK/term.resp" >"$WORK/term.body"
same "term: in-flight decisions" "$WORK/term.body" "$WORK/three.want"
waitfor "$PID"
eq "term exit" "$STATUS" 0

# ---- bad start-up ------------------------------------------------------------
"$BIN/pcrvm" serve 2>"$WORK/err"
eq "no policy: exit 2" "$?" 2
"$BIN/pcrvm" serve --listen nowhere "$WORK/ibx.pcrb" 2>"$WORK/err"
eq "bad --listen: exit 2" "$?" 2
printf 'not bytecode' >"$WORK/junk.pcrb"
"$BIN/pcrvm" serve --listen 127.0.0.1:0 "$WORK/junk.pcrb" 2>"$WORK/err"
eq "bad policy: exit 2" "$?" 2
check "bad policy: named" grep -q 'junk.pcrb' "$WORK/err"

# ---- the first server ------------------------------------------------------
PID=$PID_PAYERS
stop
eq "payers exit" "$STATUS" 0

echo "serve: $passed passed, $failed failed"
[ "$failed" = 0 ]
