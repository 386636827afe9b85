-- Loading and unloading verified bytecode.
CREATE EXTENSION pcr;
\getenv pcrb PCR_PCRB_DIR
\set ON_ERROR_STOP 0

-- Nothing loaded: every request gets the error decision, no SQL error.
SELECT pcr.decide('{"id":"a","payer":"cigna"}')->>'decision' AS decision;

SELECT pcr.load(pg_read_binary_file(:'pcrb' || '/healthlink.pcrb'));
SELECT pcr.load(pg_read_binary_file(:'pcrb' || '/cigna.pcrb'));
SELECT pcr.load(pg_read_binary_file(:'pcrb' || '/alliant.pcrb'));
SELECT pcr.load(pg_read_binary_file(:'pcrb' || '/ibx.pcrb'));
SELECT id, payer, effective_from, effective_through, length(sha256) AS sha256_hex_digits,
       sha256 = encode(sha256(pg_read_binary_file(:'pcrb' || '/' || id || '.pcrb')), 'hex') AS sha256_ok
  FROM pcr.policies ORDER BY id;
SELECT pcr.check_policies();

-- The same policy twice.
SELECT pcr.load(pg_read_binary_file(:'pcrb' || '/ibx.pcrb'));

-- Bad bytecode: the verifier's message, as an SQL error; nothing stored.
-- (try_load shows the message with its numbers as N.)
CREATE FUNCTION try_load(b bytea) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    RETURN pcr.load(b);
EXCEPTION WHEN invalid_parameter_value THEN
    RETURN regexp_replace(SQLERRM, '0x[0-9a-f]+|[0-9]+', 'N', 'g');
END $$;
SELECT pcr.load('\x00'::bytea);
SELECT try_load(convert_to('policy x { }', 'UTF8'));
SELECT try_load(substring(pg_read_binary_file(:'pcrb' || '/ibx.pcrb') FROM 1 FOR 100));
SELECT try_load(overlay(pg_read_binary_file(:'pcrb' || '/ibx.pcrb') PLACING '\xffffffff'::bytea FROM 40));
SELECT try_load(NULL) IS NULL AS null_loads_nothing;
SELECT count(*) FROM pcr.policies;

-- Unload by id@version and by id; an unknown name removes nothing.
SELECT pcr.unload('nosuch');
SELECT pcr.unload((SELECT id || '@' || version FROM pcr.policies WHERE id = 'ibx'));
SELECT pcr.unload('alliant');
SELECT id FROM pcr.policies ORDER BY id;
SELECT pcr.load(pg_read_binary_file(:'pcrb' || '/ibx.pcrb'));
SELECT pcr.load(pg_read_binary_file(:'pcrb' || '/alliant.pcrb'));

-- A policy whose window overlaps a loaded one for the same payer: the
-- load fails with the engine's message and leaves the table as it was.
\getenv extra PCR_EXTRA_DIR
SELECT pcr.load(pg_read_binary_file(:'extra' || '/ibx-demo.pcrb'));
SELECT id FROM pcr.policies ORDER BY id;
