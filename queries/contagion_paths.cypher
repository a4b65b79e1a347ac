// name: contagion_paths
// question: Along which paths can the risk of one blacklist entry spread? From the listed subject, credit risk through loans (borrower to its guarantors and lenders) and control risk through ownership and legal representation (owner or representative to the firm), up to a depth.
// param: entry string -- the blacklist entry's id
// param: depth int = 3 (1..4) -- the longest path, in subject-to-subject hops
// param: limit int = 200 (1..5000) -- at most this many paths
// columns: channel, hops, target, name, path
// note: the channels follow the default policy's directions of travel (docs/policy.md); whether an entry's risk travels a channel depends on its list's domain (credit lists through loans, compliance lists through control). Paths visit each subject once.
MATCH (src:Subject)-[:LISTED]->(:BlacklistEntry {id: $entry})
CALL (src) {
  MATCH p = (src) ((b:Subject)-[:BORROWED]->(:Loan)<-[:GUARANTEES|LENT]-(g:Subject)){1,4}
  WITH [src] + g AS subs
  WHERE size(subs) - 1 <= $depth
    AND all(i IN range(0, size(subs) - 2) WHERE NOT subs[i] IN subs[i + 1..])
  RETURN 'credit' AS channel, subs
  UNION ALL
  MATCH p = (src)-[:OWNS|LEGAL_REPRESENTATIVE_OF*1..4]->(:Firm)
  WHERE length(p) <= $depth
  WITH nodes(p) AS subs
  WHERE all(i IN range(0, size(subs) - 2) WHERE NOT subs[i] IN subs[i + 1..])
  RETURN 'control' AS channel, subs
}
WITH channel, subs, subs[-1] AS t
RETURN channel, size(subs) - 1 AS hops, t.id AS target, t.name AS name, [x IN subs | x.id] AS path
ORDER BY channel, hops, target, path
LIMIT $limit
