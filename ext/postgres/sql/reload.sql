-- A change to pcr.policies committed in another session is seen by the
-- next statement here, without reconnecting; so is one made here by the
-- other session's cached engine.
\getenv pcrb PCR_PCRB_DIR
\set ON_ERROR_STOP 0
SELECT 'host=' || current_setting('unix_socket_directories') || ' port=' || current_setting('port')
       || ' dbname=' || current_database() AS conn \gset
SELECT dblink_connect('other', :'conn');

CREATE TEMP TABLE r AS SELECT '{"id":"ibx-001","payer":"ibx","plan":"commercial","network":"in","setting":"office","code":"62323","diagnoses":["M54.16"],"state":"PA","member_age":52,"service_date":"2018-03-05","requested_at":"2018-02-26T09:00"}'::jsonb AS r;
SELECT pcr.decide(r)->>'decision' AS here FROM r;
SELECT * FROM dblink('other', $$SELECT pcr.decide('{"id":"ibx-001","payer":"ibx","plan":"commercial","network":"in","setting":"office","code":"62323","diagnoses":["M54.16"],"state":"PA","member_age":52,"service_date":"2018-03-05","requested_at":"2018-02-26T09:00"}')->>'decision'$$) AS t(other text);

-- The other session unloads ibx and commits: this session's next statement
-- finds no policy; and the other session's cached engine follows too.
SELECT * FROM dblink('other', $$SELECT pcr.unload('ibx')$$) AS t(unloaded int);
SELECT pcr.decide(r)->>'decision' AS here FROM r;
SELECT * FROM dblink('other', $$SELECT pcr.decide('{"id":"ibx-001","payer":"ibx","plan":"commercial","network":"in","setting":"office","code":"62323","diagnoses":["M54.16"],"state":"PA","member_age":52,"service_date":"2018-03-05","requested_at":"2018-02-26T09:00"}')->>'decision'$$) AS t(other text);

-- This session loads it back: the other session sees it.
SELECT pcr.load(pg_read_binary_file(:'pcrb' || '/ibx.pcrb')) IS NOT NULL AS loaded;
SELECT * FROM dblink('other', $$SELECT pcr.decide('{"id":"ibx-001","payer":"ibx","plan":"commercial","network":"in","setting":"office","code":"62323","diagnoses":["M54.16"],"state":"PA","member_age":52,"service_date":"2018-03-05","requested_at":"2018-02-26T09:00"}')->>'decision'$$) AS t(other text);

-- An uncommitted change is not seen by the other session, and a rolled
-- back one leaves no trace in either.
BEGIN;
SELECT pcr.unload('ibx');
SELECT pcr.decide(r)->>'decision' AS here_in_transaction FROM r;
SELECT * FROM dblink('other', $$SELECT pcr.decide('{"id":"ibx-001","payer":"ibx","plan":"commercial","network":"in","setting":"office","code":"62323","diagnoses":["M54.16"],"state":"PA","member_age":52,"service_date":"2018-03-05","requested_at":"2018-02-26T09:00"}')->>'decision'$$) AS t(other text);
ROLLBACK;
SELECT pcr.decide(r)->>'decision' AS here_after_rollback FROM r;
SELECT dblink_disconnect('other');

-- PL/pgSQL keeps a simple expression's call site for the whole transaction:
-- a change between two of its calls is still seen by the second.
CREATE FUNCTION pg_temp.twice(q jsonb) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    out text := '';
BEGIN
    FOR i IN 1..2 LOOP
        IF i = 2 THEN
            DELETE FROM pcr.policies WHERE id = 'ibx';
        END IF;
        out := out || (pcr.decide(q)->>'decision') || ' ';
    END LOOP;
    RETURN out;
END $$;
BEGIN;
SELECT pg_temp.twice(r) AS first_then_after_delete FROM r;
ROLLBACK;

-- The engines are keyed on the content of pcr.policies (pcr.fingerprint()),
-- not on a trigger: rows written with triggers off, as a logical
-- replication apply worker writes them (session_replication_role =
-- replica), are seen by the next statement.
SELECT pcr.fingerprint() AS fp_before \gset
SET session_replication_role = replica;
DELETE FROM pcr.policies WHERE id = 'ibx';
RESET session_replication_role;
SELECT pcr.decide(r)->>'decision' AS after_untriggered_delete FROM r;
SELECT pcr.fingerprint() <> :'fp_before' AS fingerprint_changed;
SET session_replication_role = replica;
INSERT INTO pcr.policies (id, version, payer, effective_from, effective_through, bytecode)
SELECT (m).id, (m).version, (m).payer, (m).effective_from, (m).effective_through, b
  FROM (SELECT pcr.inspect(b) AS m, b FROM pg_read_binary_file(:'pcrb' || '/ibx.pcrb') AS b) s;
RESET session_replication_role;
SELECT pcr.decide(r)->>'decision' AS after_untriggered_insert FROM r;
SELECT pcr.fingerprint() = :'fp_before' AS same_policies_same_fingerprint;
SELECT length(pcr.fingerprint()) AS fingerprint_length;

-- A dropped and recreated extension with other policies: the engine built
-- before the drop is not reused.
SELECT pcr.decide(r)->>'decision' AS before_drop FROM r;
DROP EXTENSION pcr;
CREATE EXTENSION pcr;
SELECT pcr.fingerprint() = encode(sha256(''::bytea), 'hex') AS empty_fingerprint;
INSERT INTO pcr.policies (id, version, payer, effective_from, effective_through, bytecode)
SELECT (m).id, (m).version, (m).payer, (m).effective_from, (m).effective_through, b
  FROM (SELECT pcr.inspect(b) AS m, b FROM pg_read_binary_file(:'pcrb' || '/cigna.pcrb') AS b) s;
SELECT pcr.decide(r)->>'decision' AS after_recreate FROM r;

-- Version 0.1 (a trigger moved a generation in pcr.state) updates to 0.2:
-- the trigger, its function, the table and the sequence go; the policies
-- stay and are decided with.
DROP EXTENSION pcr;
CREATE EXTENSION pcr VERSION '0.1';
SELECT pcr.load(pg_read_binary_file(:'pcrb' || '/ibx.pcrb')) AS loaded_in_0_1;
ALTER EXTENSION pcr UPDATE TO '0.2';
SELECT extversion FROM pg_extension WHERE extname = 'pcr';
SELECT to_regclass('pcr.state') AS state, to_regclass('pcr.generation_seq') AS seq,
       (SELECT count(*) FROM pg_trigger WHERE tgrelid = 'pcr.policies'::regclass) AS triggers;
SELECT pcr.decide(r)->>'decision' AS after_update FROM r;
SELECT pcr.unload('ibx') AS unloaded;
SELECT pcr.decide(r)->>'decision' AS after_unload FROM r;
