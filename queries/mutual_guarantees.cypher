// name: mutual_guarantees
// question: Which pairs of subjects guarantee each other's loans (A guarantees a loan of B and B one of A)? Of one subject, or all pairs.
// param: id string = null -- one subject's id; absent: every pair
// param: limit int = 100 (1..10000) -- at most this many pairs
// columns: a, a_name, b, b_name, a_for_b, b_for_a
CALL () {
  MATCH (a:Subject {id: $id})
  RETURN a
  UNION
  WITH $id AS one WHERE one IS NULL
  MATCH (a:Subject)-[:GUARANTEES]->(:Loan)
  RETURN DISTINCT a
}
MATCH (a)-[ga:GUARANTEES]->(:Loan)<-[:BORROWED]-(b:Subject)
WHERE a <> b AND ($id IS NOT NULL OR a.id < b.id)
WITH a, b, sum(ga.amount) AS a_for_b
MATCH (b)-[gb:GUARANTEES]->(:Loan)<-[:BORROWED]-(a)
WITH a, b, a_for_b, sum(gb.amount) AS b_for_a
RETURN a.id AS a, a.name AS a_name, b.id AS b, b.name AS b_name, a_for_b, b_for_a
ORDER BY a, b
LIMIT $limit
