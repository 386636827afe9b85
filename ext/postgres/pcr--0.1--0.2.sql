/* pcr--0.1--0.2.sql: ALTER EXTENSION pcr UPDATE TO '0.2' (docs/postgres.md).
 * 0.2 keys each backend's cached engines on pcr.fingerprint(), the
 * content of pcr.policies, instead of a generation a trigger moved: the
 * trigger, its function, pcr.state and its sequence go. */

\echo Use "ALTER EXTENSION pcr UPDATE TO '0.2'" to load this file. \quit

DROP TRIGGER policies_changed ON @extschema@.policies;
DROP FUNCTION @extschema@.policies_changed();
DROP TABLE @extschema@.state;
DROP SEQUENCE @extschema@.generation_seq;

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

