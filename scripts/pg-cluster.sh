# scripts/pg-cluster.sh: a throwaway PostgreSQL 15 cluster with the `pcr`
# extension installed, for `make test-pg` and `make bench-pg`. Sourced, not
# run; the caller sets `set -eu` and calls, in order:
#   pg_prepare        install the server and headers when missing (apt-get),
#                     build ext/postgres and install it into the server
#   pg_start          initdb + start a cluster in a new temporary folder
#                     (PG_TMP) as an unprivileged user, compile the payer
#                     policies into PG_TMP/pcrb/; sets PGHOST, PGPORT, PGUSER
#   pg_stop           stop it and remove PG_TMP (also on exit, via trap)
# The cluster listens only on a Unix socket in PG_TMP, with trust
# authentication: nothing outside this machine's user accounts reaches it.
# As root (CI), the cluster runs as the system user `pcrtest`, created when
# missing; otherwise as the current user.

PG_BINDIR=/usr/lib/postgresql/15/bin
PG_CONFIG=$PG_BINDIR/pg_config
PCR_ROOT=$(pwd)

pg_prepare() {
    missing=""
    [ -x "$PG_BINDIR/postgres" ] || missing="$missing postgresql-15 postgresql-contrib"
    [ -x "$PG_CONFIG" ] && [ -f "$("$PG_CONFIG" --includedir-server 2>/dev/null)/postgres.h" ] ||
        missing="$missing postgresql-server-dev-15"
    command -v jq > /dev/null 2>&1 || missing="$missing jq"
    if [ -n "$missing" ]; then
        . "$PCR_ROOT/scripts/apt.sh"
        apt_install test-pg $missing
    fi
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO=sudo
    make --no-print-directory -s pg-lib
    make --no-print-directory -s -C ext/postgres PG_CONFIG="$PG_CONFIG"
    $SUDO make --no-print-directory -s -C ext/postgres PG_CONFIG="$PG_CONFIG" install
}

# pg_as CMD...: runs CMD as the cluster's owner.
pg_as() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u pcrtest -- "$@"
    else
        "$@"
    fi
}

pg_start() {
    PG_TMP=$(mktemp -d "${TMPDIR:-/tmp}/pcr-pg.XXXXXX")
    trap pg_stop EXIT INT TERM
    if [ "$(id -u)" = 0 ]; then
        id pcrtest > /dev/null 2>&1 ||
            useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin pcrtest
        chown pcrtest "$PG_TMP"
        PGUSER=pcrtest
    else
        PGUSER=$(id -un)
    fi
    chmod 755 "$PG_TMP"
    # Bytecode the server reads with pg_read_binary_file.
    mkdir -p "$PG_TMP/pcrb"
    for p in policies/*.pcr; do
        bin/pcrc "$p" -o "$PG_TMP/pcrb/$(basename "$p" .pcr).pcrb"
    done
    # ibx-demo: the demo policy under payer "ibx", whose window overlaps
    # ibx's, for the load test (kept apart from the payer policies).
    mkdir -p "$PG_TMP/extra"
    sed 's/payer "demo"/payer "ibx"/; s/^policy demo {/policy ibx_demo {/' \
        policies/examples/demo.pcr > "$PG_TMP/extra/ibx-demo.pcr"
    bin/pcrc -I policies "$PG_TMP/extra/ibx-demo.pcr" -o "$PG_TMP/extra/ibx-demo.pcrb"
    # The example batch and its reviewed decisions, which the server reads
    # (the clone itself may not be readable by the cluster's user).
    mkdir -p "$PG_TMP/examples"
    cp policies/examples/requests.jsonl policies/examples/decisions.jsonl "$PG_TMP/examples/"
    chmod -R a+rX "$PG_TMP/pcrb" "$PG_TMP/extra" "$PG_TMP/examples"
    PGHOST=$PG_TMP
    PGPORT=${PCR_PG_PORT:-$((54000 + $$ % 1000))}
    export PGHOST PGPORT PGUSER
    pg_as "$PG_BINDIR/initdb" -D "$PG_TMP/data" --auth=trust --no-sync -E UTF8 --locale=C > "$PG_TMP/initdb.log" 2>&1 ||
        { cat "$PG_TMP/initdb.log" >&2; return 1; }
    pg_as "$PG_BINDIR/pg_ctl" -D "$PG_TMP/data" -l "$PG_TMP/server.log" -w \
        -o "-k $PG_TMP -p $PGPORT -c listen_addresses= -c fsync=off ${PCR_PG_OPTS:-}" start > /dev/null ||
        { cat "$PG_TMP/server.log" >&2; return 1; }
}

pg_stop() {
    trap - EXIT INT TERM
    if [ -n "${PG_TMP:-}" ] && [ -d "$PG_TMP/data" ]; then
        pg_as "$PG_BINDIR/pg_ctl" -D "$PG_TMP/data" -m fast -w stop > /dev/null 2>&1 || true
    fi
    [ -n "${PG_TMP:-}" ] && rm -rf "$PG_TMP"
    PG_TMP=""
}

# pg_load_policies DB: loads every compiled payer policy into DB.
pg_load_policies() {
    for f in "$PG_TMP"/pcrb/*.pcrb; do
        psql -X -q -v ON_ERROR_STOP=1 -d "$1" -c "SELECT pcr.load(pg_read_binary_file('$f'))" > /dev/null
    done
}
