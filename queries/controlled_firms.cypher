// name: controlled_firms
// question: Which firms does this person (or firm) control, as legal representative or by an effective ownership share at or above a threshold (chains multiplied, up to four levels), and what are their current scores?
// param: id string -- the controlling subject's id
// param: threshold float = 0.5 (0..1) -- the effective share that counts as control (the sanctions 50% rule)
// param: as_of date = today -- ownership and legal representation active on this date count (since on or before it, until on or after it)
// columns: firm, name, legal_representative, share, trust_score, total_risk
// note: a chain visits each subject once (a cross-holding adds no share by coming back round to a firm).
MATCH (s:Subject {id: $id})
WITH s, coalesce($as_of, date()) AS day
CALL (s, day) {
  MATCH p = (s)-[:OWNS*1..4]->(f:Firm)
  WHERE f <> s AND all(r IN relationships(p) WHERE (r.since IS NULL OR r.since <= day) AND (r.until IS NULL OR r.until >= day))
    AND all(i IN range(0, length(p) - 1) WHERE NOT nodes(p)[i] IN nodes(p)[i + 1..])
  RETURN f, reduce(x = 1.0, r IN relationships(p) | x * coalesce(r.share, 0.0)) AS share
  UNION ALL
  MATCH (s)-[r:LEGAL_REPRESENTATIVE_OF]->(f:Firm)
  WHERE (r.since IS NULL OR r.since <= day) AND (r.until IS NULL OR r.until >= day)
  RETURN f, 0.0 AS share
}
WITH s, day, f, sum(share) AS share
WITH s, f, share,
     EXISTS { (s)-[r:LEGAL_REPRESENTATIVE_OF]->(f) WHERE (r.since IS NULL OR r.since <= day) AND (r.until IS NULL OR r.until >= day) } AS legal_representative
WHERE legal_representative OR share >= $threshold
OPTIONAL MATCH (r:Run {current: true})
OPTIONAL MATCH (sc:Score {run: r.id, subject: f.id})
RETURN f.id AS firm, f.name AS name, legal_representative, round(share, 6) AS share,
       sc.trust_score AS trust_score, sc.total AS total_risk
ORDER BY firm
