-- Deciding requests: the example batch, malformed requests, restriction
-- to given policies, the strict variant, parallel workers.
\getenv examples PCR_EXAMPLES_DIR
\set ON_ERROR_STOP 0

-- Every example request, against the reviewed decisions (the same file
-- pcrvm's golden test uses), line by line.
CREATE TABLE req (n bigserial PRIMARY KEY, line text NOT NULL);
CREATE TABLE golden (n bigserial PRIMARY KEY, line text NOT NULL);
SELECT :'examples' || '/requests.jsonl' AS requests, :'examples' || '/decisions.jsonl' AS decisions \gset
COPY req (line) FROM :'requests' WITH (FORMAT csv, QUOTE E'\x01', DELIMITER E'\x02', FORCE_NOT_NULL (line));
COPY golden (line) FROM :'decisions' WITH (FORMAT csv, QUOTE E'\x01', DELIMITER E'\x02', FORCE_NOT_NULL (line));
CREATE FUNCTION as_jsonb(t text) RETURNS jsonb LANGUAGE plpgsql AS
$$ BEGIN RETURN t::jsonb; EXCEPTION WHEN others THEN RETURN NULL; END $$;
SELECT count(*) AS requests,
       count(*) FILTER (WHERE as_jsonb(r.line) IS NULL) AS not_json,
       count(*) FILTER (WHERE pcr.decide(as_jsonb(r.line))->>'decision' = g.line::jsonb->>'decision'
                          AND pcr.decide(as_jsonb(r.line))->>'id' IS NOT DISTINCT FROM g.line::jsonb->>'id') AS same_decision,
       count(*) FILTER (WHERE pcr.decide_text(r.line)->>'decision' = g.line::jsonb->>'decision') AS same_decision_text
  FROM req r JOIN golden g USING (n);
-- The two that differ: a line that is not JSON (it cannot be jsonb: NULL
-- in, NULL out; pcr.decide_text decides it), and a line with a duplicate
-- key, which jsonb drops (the last value wins) before pcr.decide sees it.
SELECT r.n, g.line::jsonb->>'decision' AS pcrvm, pcr.decide(as_jsonb(r.line))->>'decision' AS decide,
       pcr.decide_text(r.line)->>'decision' AS decide_text
  FROM req r JOIN golden g USING (n)
 WHERE pcr.decide(as_jsonb(r.line))->>'decision' IS DISTINCT FROM g.line::jsonb->>'decision'
 ORDER BY r.n;
SELECT pcr.decide(as_jsonb(line))->>'decision' AS decision, count(*)
  FROM req GROUP BY 1 ORDER BY 1;

-- Malformed requests: the error decision object, never an SQL error.
SELECT r AS request, d->>'decision' AS decision, d->>'id' AS id, d ? 'error' AS has_error
  FROM (VALUES ('{}'::jsonb), ('[]'), ('"text"'), ('null'), ('42'),
               ('{"id":"m1","payer":"cigna","service_date":"2024-02-30","code":"70551"}'),
               ('{"id":"m2","payer":"cigna","service_date":"2024-01-10","code":"70551","member_age":"old"}'),
               ('{"id":"m3","payer":"cigna","service_date":"2024-01-10","code":"70551","setting":"moon"}'))
       AS t(r), LATERAL pcr.decide(r) AS d;
SELECT pcr.decide(NULL) IS NULL AS null_in_null_out;
SELECT pcr.decide_text('{"id": "broken", "payer": ') ->> 'decision' AS decision;

-- pcr.decide reads the jsonb value itself (not its text from jsonb_out) and
-- builds the result without jsonb_in: on values that print in more than
-- one way (escapes, control characters, non-ASCII, numbers with fractions
-- or exponents, nesting in unknown keys, raw scalars, an empty object) it
-- decides what the text route decides.
SELECT t.n, pcr.decide(t.r) = pcr.decide_text(t.r::text) AS same_as_text,
       pcr.decide(t.r)->>'id' AS id, pcr.decide(t.r)->>'error' AS error
  FROM (VALUES
    (1, '{"id":"q\"uo\\te\/\n\t\u0001é€😀","payer":"cigna","service_date":"2024-01-10","code":"70551"}'::jsonb),
    (2, '{"id":"n1","payer":"cigna","service_date":"2024-01-10","code":"70551","member_age":4.0E1}'),
    (3, '{"id":"n2","payer":"cigna","service_date":"2024-01-10","code":"70551","member_age":-1e400}'),
    (4, '{"id":"n3","payer":"cigna","service_date":"2024-01-10","code":"70551","member_age":1.50}'),
    (5, '{"id":"u1","payer":"cigna","service_date":"2024-01-10","code":"70551","x":{"a":[1,{"b":null},[true,false]],"":"e"}}'),
    (6, '{"id":"l1","payer":"cigna","service_date":"2024-01-10","code":"70551","diagnoses":[{"system":"ICD-10-CM","code":"G43.909"},"R51.9"]}'),
    (7, '{"id":"l2","payer":"cigna","service_date":"2024-01-10","code":"70551","diagnoses":[{"code":"G43.909","note":["x"]}, 7]}'),
    (8, '{"id":"long-id-with-no-escape-at-all-0123456789abcdefghij","payer":"healthlink","service_date":"2022-03-14","code":"43770","setting":"ambulatory_surgery","network":"in","diagnoses":["E66.01","Z68.41"],"state":"IL","member_age":44,"requested_at":"2022-02-28T10:12"}'),
    (9, '"\u0007"'), (10, 'true'), (11, '[{"id":"a"}]'), (12, '{}'))
       AS t(n, r)
 ORDER BY t.n;
-- Requests beyond the library's line limit (1 MiB) are error decisions,
-- with their id: one written directly (2 MiB), one so large (17 MiB) that
-- it goes through jsonb's own text.
SELECT n, d->>'decision' AS decision, d->>'id' AS id,
       substring(d->>'error' from '^record 1: line is [0-9]+ bytes, longer than the limit') IS NOT NULL
           AS line_too_long
  FROM (SELECT n, pcr.decide(jsonb_build_object('id', 'big' || n, 'payer', 'cigna',
                                                'pad', repeat('x', n * 1024 * 1024))) AS d
          FROM (VALUES (2), (17)) AS t(n)) s
 ORDER BY n;
-- The whole object, where the decision line has escapes of its own.
SELECT pcr.decide('{"id":"q\"uo\\te\n\u0001é😀","payer":"nobody \"here\"","service_date":"2024-01-10","code":"70551"}');

-- The strict variant raises on the same requests, and agrees otherwise.
SELECT pcr.decide_strict('{"id":"m1","payer":"cigna","service_date":"2024-02-30","code":"70551"}');
SELECT pcr.decide_strict(as_jsonb(line)) = pcr.decide(as_jsonb(line)) AS strict_agrees
  FROM req WHERE n = 1;

-- Restricting the routing: a healthlink request decided over cigna alone
-- finds no policy; over healthlink (by id or id@version) the same as over all.
SELECT line::jsonb->>'payer' AS payer FROM req WHERE n = 1;
SELECT pcr.decide(as_jsonb(line), ARRAY['cigna'])->>'decision' AS only_cigna,
       pcr.decide(as_jsonb(line), ARRAY['healthlink']) = pcr.decide(as_jsonb(line)) AS by_id,
       pcr.decide(as_jsonb(line), ARRAY[(SELECT id || '@' || version FROM pcr.policies WHERE id = 'healthlink')])
           = pcr.decide(as_jsonb(line)) AS by_version
  FROM req WHERE n = 1;
SELECT count(*) FILTER (WHERE pcr.decide(r, ARRAY['cigna','healthlink','ibx','alliant']) = pcr.decide(r)) AS same_over_all,
       count(*) FILTER (WHERE pcr.decide(r, ARRAY['cigna'])->>'decision' = 'no_policy') AS no_policy_over_cigna
  FROM (SELECT as_jsonb(line) AS r FROM req) s WHERE r IS NOT NULL;
SELECT pcr.decide('{}', ARRAY['nosuch']);
SELECT pcr.decide('{}', ARRAY[NULL::text]);
SELECT pcr.decide('{}', '{}'::text[])->>'decision' AS no_policies;

-- Parallel workers decide the same as the leader alone.
CREATE TABLE par AS SELECT n, as_jsonb(line) AS r FROM req, generate_series(1, 20) WHERE as_jsonb(line) IS NOT NULL;
ANALYZE par;
CREATE TABLE serial_counts AS SELECT pcr.decide(r)->>'decision' AS decision, count(*) FROM par GROUP BY 1;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF) SELECT pcr.decide(r)->>'decision', count(*) FROM par GROUP BY 1;
SELECT count(*) AS differing FROM (
  (SELECT pcr.decide(r)->>'decision' AS decision, count(*) FROM par GROUP BY 1
   EXCEPT SELECT * FROM serial_counts)
  UNION ALL
  (SELECT * FROM serial_counts
   EXCEPT SELECT pcr.decide(r)->>'decision' AS decision, count(*) FROM par GROUP BY 1)) d;
RESET ALL;

-- Decisions made from the cache of decisions but for their id: three
-- requests (one decided, one with no policy, one malformed) under ids of
-- every length from 0 to 40 bytes, multibyte and escaped ones, each twice
-- in one query (then from the cache); with pcr.check_output every value is
-- compared with jsonb_in's, byte for byte; each must carry its own id.
SET pcr.check_output = on;
WITH ids AS (
  SELECT repeat('x', k) AS id FROM generate_series(0, 40) k
  UNION ALL SELECT repeat('é', k) FROM generate_series(1, 9) k
  UNION ALL VALUES ('a"b'), (E'tab\tx'), ('back\slash'), ('ünï"cødé'), ('/'), (E'\u2028')),
base(r) AS (VALUES
  ('{"payer":"ibx","plan":"commercial","network":"in","setting":"office","code":"62323","diagnoses":["M54.16"],"state":"PA","member_age":52,"service_date":"2018-03-05","requested_at":"2018-02-26T09:00"}'::jsonb),
  ('{"payer":"nosuch","plan":"commercial","service_date":"2018-03-05","code":"62323"}'),
  ('{"payer":"ibx","service_date":"2018-13-05"}')),
reqs AS (SELECT id, jsonb_set(r, '{id}', to_jsonb(id)) AS r FROM ids, base, generate_series(1, 2))
SELECT count(*) AS decided, count(*) FILTER (WHERE pcr.decide(r)->>'id' = id) AS own_id,
       count(DISTINCT pcr.decide(r)->>'decision') AS kinds
  FROM reqs;
RESET pcr.check_output;

-- Numbers as the request's text gives them: the library echoes a number
-- where it wants a string, and pcr.decide writes small integers itself
-- (others through numeric_out): each message must be the one decided from
-- r::text, which jsonb_out writes.
SELECT v, pcr.decide(r)->>'error' = pcr.decide_text(r::text)->>'error' AS same,
       regexp_replace(pcr.decide(r)->>'error', '^.*, got ', '') AS got
  FROM (SELECT v, jsonb_set('{"id":"n","payer":"ibx","plan":"commercial","network":"in","setting":"office","code":"62323","diagnoses":["M54.16"],"state":"PA","member_age":52,"service_date":"2018-03-05"}',
                          '{state}', to_jsonb(v::numeric)) AS r
          FROM unnest(ARRAY['0', '-0', '1', '-1', '9999', '10000', '10001', '-10000', '99990000',
                            '123456789', '1000000000000', '9999999999999999', '10000000000000000',
                            '-12345678901234567890', '1.0', '1.50', '-5.25', '0.0001', '1e3',
                            '1e-3', '100.000', '1e20']) v) s;

-- A role with no grant of its own decides; it cannot load or unload.
CREATE ROLE regress_pcr_reader;
SET ROLE regress_pcr_reader;
SELECT pcr.decide('{"id":"ibx-001","payer":"ibx","plan":"commercial","network":"in","setting":"office","code":"62323","diagnoses":["M54.16"],"state":"PA","member_age":52,"service_date":"2018-03-05","requested_at":"2018-02-26T09:00"}')->>'decision' AS decision;
SELECT pcr.unload('ibx');
RESET ROLE;
DROP ROLE regress_pcr_reader;
