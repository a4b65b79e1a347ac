// name: mutual_guarantees
// question: Which pairs of subjects guarantee each other's loans (A guarantees a loan of B and B one of A)? Of one subject, or all pairs.
// param: id string = null -- one subject's id; absent: every pair
// param: limit int = 100 (1..10000) -- at most this many pairs
// param: as_of date = today -- guarantees active on this date count (between since and until, on a loan issued and not repaid)
// columns: a, a_name, b, b_name, a_for_b, b_for_a
CALL () {
  MATCH (a:Subject {id: $id})
  RETURN a
  UNION
  WITH $id AS one WHERE one IS NULL
  MATCH (a:Subject)-[:GUARANTEES]->(:Loan)
  RETURN DISTINCT a
}
WITH a, coalesce($as_of, date()) AS day
MATCH (a)-[ga:GUARANTEES]->(la:Loan)<-[:BORROWED]-(b:Subject)
WHERE a <> b AND ($id IS NOT NULL OR a.id < b.id)
  AND (ga.since IS NULL OR ga.since <= day) AND (ga.until IS NULL OR ga.until >= day)
  AND (la.issued_on IS NULL OR la.issued_on <= day)
  AND NOT (la.status = 'repaid' AND coalesce(la.status_on <= day, true))
WITH a, b, day, sum(ga.amount) AS a_for_b
MATCH (b)-[gb:GUARANTEES]->(lb:Loan)<-[:BORROWED]-(a)
WHERE (gb.since IS NULL OR gb.since <= day) AND (gb.until IS NULL OR gb.until >= day)
  AND (lb.issued_on IS NULL OR lb.issued_on <= day)
  AND NOT (lb.status = 'repaid' AND coalesce(lb.status_on <= day, true))
WITH a, b, a_for_b, sum(gb.amount) AS b_for_a
RETURN a.id AS a, a.name AS a_name, b.id AS b, b.name AS b_name, a_for_b, b_for_a
ORDER BY a, b
LIMIT $limit
