-- What e2e.sqlite runs with SQLite's shell built by clang-19 and by
-- ptmcc -fptm-mirror-all: the two outputs must be the same bytes.
PRAGMA journal_mode=WAL;
CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, score REAL, doc TEXT);
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
INSERT INTO t SELECT i, 'name' || (i * 7919 % 20000), (i * 31 % 1000) / 10.0,
       json_object('i', i, 'sq', i * i, 'tags', json_array(i % 3, i % 5, 'x' || (i % 7)))
FROM n;
COMMIT;
CREATE INDEX t_name ON t(name);
CREATE INDEX t_score ON t(score, id);
PRAGMA integrity_check;
SELECT count(*), sum(score), min(name), max(name) FROM t;
SELECT name, score FROM t WHERE name BETWEEN 'name100' AND 'name1005' ORDER BY name;
SELECT json_extract(doc, '$.sq'), json_extract(doc, '$.tags[2]') FROM t WHERE id IN (1, 777, 19999);
SELECT score, count(*) FROM t GROUP BY score ORDER BY count(*) DESC, score LIMIT 5;
UPDATE t SET doc = json_set(doc, '$.done', 1) WHERE id % 1000 = 0;
DELETE FROM t WHERE id % 3 = 0;
SELECT count(*), total(json_extract(doc, '$.done')) FROM t;
SELECT group_concat(id) FROM (SELECT id FROM t ORDER BY score DESC, id LIMIT 10);
SELECT t.id, json_each.key, json_each.value FROM t, json_each(t.doc, '$.tags') WHERE t.id = 4;
WITH RECURSIVE f(n, x) AS (SELECT 1, 1 UNION ALL SELECT n + 1, x * (n + 1) FROM f WHERE n < 20)
SELECT n, x, printf('%e', x * 1.0) FROM f WHERE n % 5 = 0;
SELECT upper(name), length(doc), substr(doc, 2, 8), instr(doc, 'tags') FROM t WHERE id = 20000;
VACUUM;
PRAGMA integrity_check;
SELECT printf('%.3f', avg(score)), hex(zeroblob(2)), typeof(zeroblob(3)) FROM t;
