// name: disputed_records
// question: Which records (loans and blacklist entries) are under dispute now, about whom, since when, opened by whom and why?
// columns: record, kind, subjects, opened_at, opened_by, reason
// note: found through their (:Dispute)-[:ABOUT]-> records (`credgraph dispute` writes them; a record is under dispute while its `disputed` flag is true); a flag set by other means, with no Dispute, is not listed.
MATCH (:Dispute)-[:ABOUT]->(r)
WHERE r.disputed = true AND (r:Loan OR r:BlacklistEntry)
WITH DISTINCT r
OPTIONAL CALL (r) {
  MATCH (d:Dispute {action: 'opened'})-[:ABOUT]->(r)
  RETURN d ORDER BY d.at DESC LIMIT 1
}
RETURN r.id AS record, CASE WHEN r:Loan THEN 'loan' ELSE 'blacklist_entry' END AS kind,
       CASE WHEN r:Loan THEN [(s:Subject)-[:BORROWED]->(r) | s.id]
            ELSE [(s:Subject)-[:LISTED]->(r) | s.id] END AS subjects,
       toString(d.at) AS opened_at, d.actor AS opened_by, d.reason AS reason
ORDER BY record
