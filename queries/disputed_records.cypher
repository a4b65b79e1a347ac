// name: disputed_records
// question: Which records (loans and blacklist entries) are under dispute now, about whom, since when, opened by whom and why?
// columns: record, kind, subjects, opened_at, opened_by, reason
// note: a record loaded with disputed = true and never disputed through credgraph has no opened_at, opened_by or reason.
CALL () {
  MATCH (r:Loan) WHERE r.disputed = true
  RETURN r, 'loan' AS kind, [(s:Subject)-[:BORROWED]->(r) | s.id] AS subjects
  UNION ALL
  MATCH (r:BlacklistEntry) WHERE r.disputed = true
  RETURN r, 'blacklist_entry' AS kind, [(s:Subject)-[:LISTED]->(r) | s.id] AS subjects
}
OPTIONAL CALL (r) {
  MATCH (d:Dispute {action: 'opened'})-[:ABOUT]->(r)
  RETURN d ORDER BY d.at DESC LIMIT 1
}
RETURN r.id AS record, kind, subjects, toString(d.at) AS opened_at, d.actor AS opened_by,
       d.reason AS reason
ORDER BY record
