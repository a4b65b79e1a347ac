// name: contagion_paths
// question: Along which paths can the risk of one blacklist entry spread? The default policy's channels (docs/policy.md): credit from a borrower to its lenders and the guarantors of its loans, and from a firm to its owners; compliance (channel 'control') from an owner or legal representative to the firm, and from a firm to its legal representatives and directors; up to a depth, over ties active on as_of.
// param: entry string -- the blacklist entry's id
// param: depth int = 3 (1..4) -- the longest path, in subject-to-subject hops
// param: limit int = 200 (1..5000) -- at most this many paths
// param: as_of date = today -- only ties active that day count
// columns: channel, hops, target, name, path
// note: whether an entry's risk travels a channel depends on its list's domain (credit lists through the credit channels, compliance lists through control) and on the policy's weights: a path here is where it can go under the default policy, not its weight. Paths visit each subject once, and a path is shown once however many relationships join its subjects (a loan and an ownership between the same two firms); a loan counts from issued_on until repaid, a guarantee, ownership or role between since and until (docs/policy.md).
WITH coalesce($as_of, date()) AS day
MATCH (src:Subject)-[:LISTED]->(:BlacklistEntry {id: $entry})
// One branch per depth for each channel (a quantifier cannot be a parameter): the walk
// goes no further than the depth asked for. Credit: borrower -> lender or guarantor
// (two relationships, through the loan), firm -> owner. Control: owner or legal
// representative -> firm, firm -> legal representative or director.
CALL (src, day) {
  WITH src, day WHERE $depth = 1
  MATCH p = (src) ((a)-[r:BORROWED|LENT|GUARANTEES|OWNS]-(b) WHERE CASE type(r)
      WHEN 'BORROWED' THEN startNode(r) = a AND coalesce(b.issued_on <= day, true)
        AND NOT (b.status = 'repaid' AND coalesce(b.status_on <= day, true))
      WHEN 'LENT' THEN endNode(r) = a
      ELSE endNode(r) = a AND coalesce(r.since <= day, true) AND coalesce(r.until >= day, true)
    END){1,2} (t:Subject)
  RETURN 'credit' AS channel, [x IN nodes(p) WHERE x:Subject] AS subs
  UNION ALL
  WITH src, day WHERE $depth = 2
  MATCH p = (src) ((a)-[r:BORROWED|LENT|GUARANTEES|OWNS]-(b) WHERE CASE type(r)
      WHEN 'BORROWED' THEN startNode(r) = a AND coalesce(b.issued_on <= day, true)
        AND NOT (b.status = 'repaid' AND coalesce(b.status_on <= day, true))
      WHEN 'LENT' THEN endNode(r) = a
      ELSE endNode(r) = a AND coalesce(r.since <= day, true) AND coalesce(r.until >= day, true)
    END){1,4} (t:Subject)
  RETURN 'credit' AS channel, [x IN nodes(p) WHERE x:Subject] AS subs
  UNION ALL
  WITH src, day WHERE $depth = 3
  MATCH p = (src) ((a)-[r:BORROWED|LENT|GUARANTEES|OWNS]-(b) WHERE CASE type(r)
      WHEN 'BORROWED' THEN startNode(r) = a AND coalesce(b.issued_on <= day, true)
        AND NOT (b.status = 'repaid' AND coalesce(b.status_on <= day, true))
      WHEN 'LENT' THEN endNode(r) = a
      ELSE endNode(r) = a AND coalesce(r.since <= day, true) AND coalesce(r.until >= day, true)
    END){1,6} (t:Subject)
  RETURN 'credit' AS channel, [x IN nodes(p) WHERE x:Subject] AS subs
  UNION ALL
  WITH src, day WHERE $depth = 4
  MATCH p = (src) ((a)-[r:BORROWED|LENT|GUARANTEES|OWNS]-(b) WHERE CASE type(r)
      WHEN 'BORROWED' THEN startNode(r) = a AND coalesce(b.issued_on <= day, true)
        AND NOT (b.status = 'repaid' AND coalesce(b.status_on <= day, true))
      WHEN 'LENT' THEN endNode(r) = a
      ELSE endNode(r) = a AND coalesce(r.since <= day, true) AND coalesce(r.until >= day, true)
    END){1,8} (t:Subject)
  RETURN 'credit' AS channel, [x IN nodes(p) WHERE x:Subject] AS subs
  UNION ALL
  WITH src, day WHERE $depth = 1
  MATCH p = (src) ((a)-[r:OWNS|LEGAL_REPRESENTATIVE_OF|DIRECTOR_OF]-(b)
    WHERE coalesce(r.since <= day, true) AND coalesce(r.until >= day, true)
      AND CASE type(r) WHEN 'OWNS' THEN startNode(r) = a WHEN 'DIRECTOR_OF' THEN endNode(r) = a ELSE true END){1,1} (t:Subject)
  RETURN 'control' AS channel, nodes(p) AS subs
  UNION ALL
  WITH src, day WHERE $depth = 2
  MATCH p = (src) ((a)-[r:OWNS|LEGAL_REPRESENTATIVE_OF|DIRECTOR_OF]-(b)
    WHERE coalesce(r.since <= day, true) AND coalesce(r.until >= day, true)
      AND CASE type(r) WHEN 'OWNS' THEN startNode(r) = a WHEN 'DIRECTOR_OF' THEN endNode(r) = a ELSE true END){1,2} (t:Subject)
  RETURN 'control' AS channel, nodes(p) AS subs
  UNION ALL
  WITH src, day WHERE $depth = 3
  MATCH p = (src) ((a)-[r:OWNS|LEGAL_REPRESENTATIVE_OF|DIRECTOR_OF]-(b)
    WHERE coalesce(r.since <= day, true) AND coalesce(r.until >= day, true)
      AND CASE type(r) WHEN 'OWNS' THEN startNode(r) = a WHEN 'DIRECTOR_OF' THEN endNode(r) = a ELSE true END){1,3} (t:Subject)
  RETURN 'control' AS channel, nodes(p) AS subs
  UNION ALL
  WITH src, day WHERE $depth = 4
  MATCH p = (src) ((a)-[r:OWNS|LEGAL_REPRESENTATIVE_OF|DIRECTOR_OF]-(b)
    WHERE coalesce(r.since <= day, true) AND coalesce(r.until >= day, true)
      AND CASE type(r) WHEN 'OWNS' THEN startNode(r) = a WHEN 'DIRECTOR_OF' THEN endNode(r) = a ELSE true END){1,4} (t:Subject)
  RETURN 'control' AS channel, nodes(p) AS subs
}
WITH DISTINCT channel, subs
WHERE size(subs) - 1 <= $depth
  AND all(i IN range(0, size(subs) - 2) WHERE NOT subs[i] IN subs[i + 1..])
WITH channel, subs, subs[-1] AS t
RETURN channel, size(subs) - 1 AS hops, t.id AS target, t.name AS name, [x IN subs | x.id] AS path
ORDER BY channel, hops, target, path
LIMIT $limit
