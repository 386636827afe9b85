/* pcr--0.2.sql: CREATE EXTENSION pcr (docs/postgres.md). */

\echo Use "CREATE EXTENSION pcr" to load this file. \quit

-- The loaded policies: one row per verified .pcrb. The effective window is
-- inclusive; NULL is open at that end. sha256 is of the bytecode as loaded,
-- the same digest `sha256sum x.pcrb` and `pcrvm --stats` print.
CREATE TABLE @extschema@.policies (
    id               text        NOT NULL,
    version          text        NOT NULL,
    payer            text        NOT NULL,
    effective_from   date,
    effective_through date,
    bytecode         bytea       NOT NULL,
    sha256           text        NOT NULL GENERATED ALWAYS AS (encode(sha256(bytecode), 'hex')) STORED,
    loaded_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, version)
);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.policies', '');

-- The fingerprint of the loaded policies: the hex SHA-256 of one line
-- "id@version sha256" per policy, sorted. It is what each backend's cached
-- engine is keyed on (it reads the same expression with each command's
-- snapshot and rebuilds when it differs), so no trigger or state table is
-- involved: rows written by any path count, and two databases, or the nodes
-- of a cluster, hold the same policies exactly when their fingerprints
-- agree.
CREATE FUNCTION @extschema@.fingerprint() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT encode(sha256(convert_to(coalesce(string_agg(id || '@' || version || ' ' || sha256,
                                                        E'\n' ORDER BY id, version), ''), 'UTF8')), 'hex')
      FROM @extschema@.policies
$$;

-- Verifies bytecode with the project's verifier and returns its header
-- facts; a bad file is an error carrying the verifier's message.
CREATE FUNCTION @extschema@.inspect(bytecode bytea,
    OUT id text, OUT version text, OUT payer text,
    OUT effective_from date, OUT effective_through date)
RETURNS record
AS 'MODULE_PATHNAME', 'pcr_pg_inspect'
LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;

-- Builds this backend's engine from every loaded policy; an error when they
-- cannot be routed together (overlapping windows for one payer, different
-- request schemas). Returns the number of policies.
CREATE FUNCTION @extschema@.check_policies() RETURNS integer
AS 'MODULE_PATHNAME', 'pcr_pg_check_policies'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.load(bytecode bytea) RETURNS text STRICT
LANGUAGE plpgsql AS $$
DECLARE
    m record;
BEGIN
    m := @extschema@.inspect(bytecode);
    -- One load or unload at a time, so two overlapping policies cannot
    -- both pass the check below.
    LOCK TABLE @extschema@.policies IN SHARE ROW EXCLUSIVE MODE;
    IF EXISTS (SELECT 1 FROM @extschema@.policies p WHERE p.id = m.id AND p.version = m.version) THEN
        RAISE EXCEPTION 'policy %@% is already loaded', m.id, m.version
            USING ERRCODE = 'unique_violation', HINT = 'pcr.unload it first';
    END IF;
    INSERT INTO @extschema@.policies (id, version, payer, effective_from, effective_through, bytecode)
    VALUES (m.id, m.version, m.payer, m.effective_from, m.effective_through, bytecode);
    PERFORM @extschema@.check_policies();
    RETURN m.id || '@' || m.version;
END $$;

-- Removes 'id@version', or every version of 'id'; returns how many.
CREATE FUNCTION @extschema@.unload(policy text) RETURNS integer STRICT
LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    LOCK TABLE @extschema@.policies IN SHARE ROW EXCLUSIVE MODE;
    DELETE FROM @extschema@.policies p
     WHERE p.id || '@' || p.version = policy OR (strpos(policy, '@') = 0 AND p.id = policy);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

-- The decision object pcrvm prints for the request, routed over the loaded
-- policies (or over those named: 'id@version' or 'id'). A malformed request
-- gives the "error" decision object; the _strict variants raise instead.
CREATE FUNCTION @extschema@.decide(request jsonb) RETURNS jsonb
AS 'MODULE_PATHNAME', 'pcr_pg_decide'
LANGUAGE C STRICT STABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.decide(request jsonb, policies text[]) RETURNS jsonb
AS 'MODULE_PATHNAME', 'pcr_pg_decide'
LANGUAGE C STRICT STABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.decide_strict(request jsonb) RETURNS jsonb
AS 'MODULE_PATHNAME', 'pcr_pg_decide_strict'
LANGUAGE C STRICT STABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.decide_strict(request jsonb, policies text[]) RETURNS jsonb
AS 'MODULE_PATHNAME', 'pcr_pg_decide_strict'
LANGUAGE C STRICT STABLE PARALLEL SAFE;

-- The same over the request's text (no jsonb round trip): what pcrvm reads
-- from a JSON Lines file, byte for byte.
CREATE FUNCTION @extschema@.decide_text(request text) RETURNS jsonb
AS 'MODULE_PATHNAME', 'pcr_pg_decide_text'
LANGUAGE C STRICT STABLE PARALLEL SAFE;

-- Anyone may decide (which reads the policies); loading and unloading need
-- INSERT and DELETE on pcr.policies, which only its owner has by default.
GRANT USAGE ON SCHEMA @extschema@ TO PUBLIC;
GRANT SELECT ON @extschema@.policies TO PUBLIC;
