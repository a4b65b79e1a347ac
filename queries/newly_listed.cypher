// name: newly_listed
// question: Which subjects were newly blacklisted in the last N days, and who is exposed to them (their lenders, the guarantors of their loans, their owners, the firms they own or represent)?
// param: days int = 30 (1..3650) -- how far back, in days, from as_of
// param: as_of date = today -- the day counted back from
// columns: subject, name, entry, list, listed_on, exposed
// note: exposed lists 'ID (how)', how being lender, guarantor, owner, owned or represented; disputed entries, and entries delisted or expired by as_of (docs/policy.md), are left out. Only ties active on as_of count (docs/policy.md: a loan from issued_on until repaid; a guarantee, ownership or legal representation between since and until).
WITH coalesce($as_of, date()) AS day
WITH day, day - duration({days: $days}) AS since
MATCH (e:BlacklistEntry)
WHERE e.listed_on > since AND e.listed_on <= day AND coalesce(e.disputed, false) = false
  AND (e.delisted_on IS NULL OR e.delisted_on > day) AND (e.expires_on IS NULL OR e.expires_on >= day)
MATCH (s:Subject)-[:LISTED]->(e)
OPTIONAL CALL (s, day) {
  MATCH (s)-[:BORROWED]->(l:Loan)<-[:LENT]-(x:Subject)
    WHERE (l.issued_on IS NULL OR l.issued_on <= day)
          AND NOT (l.status = 'repaid' AND coalesce(l.status_on <= day, true))
    RETURN x, 'lender' AS how
  UNION
  MATCH (s)-[:BORROWED]->(l:Loan)<-[r:GUARANTEES]-(x:Subject)
    WHERE (r.since IS NULL OR r.since <= day) AND (r.until IS NULL OR r.until >= day)
      AND (l.issued_on IS NULL OR l.issued_on <= day)
          AND NOT (l.status = 'repaid' AND coalesce(l.status_on <= day, true))
    RETURN x, 'guarantor' AS how
  UNION
  MATCH (s)<-[r:OWNS]-(x:Subject) WHERE (r.since IS NULL OR r.since <= day) AND (r.until IS NULL OR r.until >= day) RETURN x, 'owner' AS how
  UNION
  MATCH (s)-[r:OWNS]->(x:Firm) WHERE (r.since IS NULL OR r.since <= day) AND (r.until IS NULL OR r.until >= day) RETURN x, 'owned' AS how
  UNION
  MATCH (s)-[r:LEGAL_REPRESENTATIVE_OF]->(x:Firm) WHERE (r.since IS NULL OR r.since <= day) AND (r.until IS NULL OR r.until >= day) RETURN x, 'represented' AS how
}
WITH s, e, x.id + ' (' + how + ')' AS exposed ORDER BY exposed
RETURN s.id AS subject, s.name AS name, e.id AS entry, e.list AS list, e.listed_on AS listed_on,
       collect(exposed) AS exposed
ORDER BY listed_on DESC, subject, entry
