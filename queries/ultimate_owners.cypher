// name: ultimate_owners
// question: Who ultimately owns this firm? Ownership chains up to a depth, shares multiplied along each chain and added over chains, kept at or above a threshold.
// param: firm string -- the firm's id
// param: threshold float = 0.25 (0..1) -- the least effective share reported
// param: depth int = 4 (1..6) -- the longest ownership chain
// param: as_of date = today -- ownership active on this date counts (since on or before it, until on or after it)
// columns: owner, name, kind, share, chains, longest
// note: an ultimate owner is a person, or a firm nobody is recorded to own. A chain visits each subject once (a cross-holding adds no share by coming back round to a firm). A share recorded as unknown counts as 0 here (the policy's unknown_share is for scoring only).
WITH coalesce($as_of, date()) AS day
MATCH p = (o:Subject)-[:OWNS*1..6]->(f:Firm {id: $firm})
WHERE length(p) <= $depth
  AND all(r IN relationships(p) WHERE (r.since IS NULL OR r.since <= day)
                                   AND (r.until IS NULL OR r.until >= day))
  AND (o:Person OR NOT EXISTS { (:Subject)-[r:OWNS]->(o) WHERE (r.since IS NULL OR r.since <= day) AND (r.until IS NULL OR r.until >= day) })
  AND o <> f
  AND all(i IN range(0, length(p) - 1) WHERE NOT nodes(p)[i] IN nodes(p)[i + 1..])
WITH o, p, reduce(x = 1.0, r IN relationships(p) | x * coalesce(r.share, 0.0)) AS share
WITH o, sum(share) AS share, count(p) AS chains, max(length(p)) AS longest
WHERE share >= $threshold
RETURN o.id AS owner, o.name AS name, CASE WHEN o:Person THEN 'person' ELSE 'firm' END AS kind,
       round(share, 6) AS share, chains, longest
ORDER BY share DESC, owner
