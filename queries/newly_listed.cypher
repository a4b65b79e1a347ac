// name: newly_listed
// question: Which subjects were newly blacklisted in the last N days, and who is exposed to them (their lenders, the guarantors of their loans, their owners, the firms they own or represent)?
// param: days int = 30 (1..3650) -- how far back, in days, from as_of
// param: as_of date = today -- the day counted back from
// columns: subject, name, entry, list, listed_on, exposed
// note: exposed lists 'ID (how)', how being lender, guarantor, owner, owned or represented; disputed entries are left out.
WITH coalesce($as_of, date()) AS day
WITH day, day - duration({days: $days}) AS since
MATCH (e:BlacklistEntry)
WHERE e.listed_on > since AND e.listed_on <= day AND coalesce(e.disputed, false) = false
MATCH (s:Subject)-[:LISTED]->(e)
OPTIONAL CALL (s) {
  MATCH (s)-[:BORROWED]->(:Loan)<-[:LENT]-(x:Subject) RETURN x, 'lender' AS how
  UNION
  MATCH (s)-[:BORROWED]->(:Loan)<-[:GUARANTEES]-(x:Subject) RETURN x, 'guarantor' AS how
  UNION
  MATCH (s)<-[:OWNS]-(x:Subject) RETURN x, 'owner' AS how
  UNION
  MATCH (s)-[:OWNS]->(x:Firm) RETURN x, 'owned' AS how
  UNION
  MATCH (s)-[:LEGAL_REPRESENTATIVE_OF]->(x:Firm) RETURN x, 'represented' AS how
}
WITH s, e, x.id + ' (' + how + ')' AS exposed ORDER BY exposed
RETURN s.id AS subject, s.name AS name, e.id AS entry, e.list AS list, e.listed_on AS listed_on,
       collect(exposed) AS exposed
ORDER BY listed_on DESC, subject, entry
