// name: guarantee_chains
// question: Who guarantees for this subject, and whom does it guarantee, as chains of guarantees up to a depth? A hop is "G guarantees a loan that B borrowed"; chains visit each subject once.
// param: id string -- the subject's id
// param: depth int = 2 (1..5) -- the longest chain, in guarantees
// param: as_of date = today -- guarantees active on this date count (between since and until, on a loan issued and not repaid)
// columns: direction, hops, subject, name, chain, guarantees
// note: direction 'guarantees' = chains out of the subject (it guarantees B, B guarantees C ...), chain listed from the subject; 'guaranteed_by' = chains into it (G guarantees for the subject, H for G ...), chain listed from the subject back to the far guarantor.
MATCH (s:Subject {id: $id})
WITH s, coalesce($as_of, date()) AS day
CALL (s, day) {
  MATCH p = (s) ((g:Subject)-[gs:GUARANTEES]->(ls:Loan)<-[:BORROWED]-(b:Subject)){1,5}
  WHERE size(gs) <= $depth
    AND all(r IN gs WHERE (r.since IS NULL OR r.since <= day) AND (r.until IS NULL OR r.until >= day))
    AND all(x IN ls WHERE (x.issued_on IS NULL OR x.issued_on <= day) AND NOT (x.status = 'repaid' AND coalesce(x.status_on <= day, true)))
  WITH [s] + b AS subs, gs
  WHERE all(i IN range(0, size(subs) - 2) WHERE NOT subs[i] IN subs[i + 1..])
  RETURN 'guarantees' AS direction, subs, gs
  UNION ALL
  MATCH p = ((g:Subject)-[gs:GUARANTEES]->(ls:Loan)<-[:BORROWED]-(b:Subject)){1,5} (s)
  WHERE size(gs) <= $depth
    AND all(r IN gs WHERE (r.since IS NULL OR r.since <= day) AND (r.until IS NULL OR r.until >= day))
    AND all(x IN ls WHERE (x.issued_on IS NULL OR x.issued_on <= day) AND NOT (x.status = 'repaid' AND coalesce(x.status_on <= day, true)))
  WITH reverse([g[0]] + b) AS subs, reverse(gs) AS gs
  WHERE all(i IN range(0, size(subs) - 2) WHERE NOT subs[i] IN subs[i + 1..])
  RETURN 'guaranteed_by' AS direction, subs, gs
}
WITH direction, subs, gs, subs[-1] AS far
RETURN direction, size(gs) AS hops, far.id AS subject, far.name AS name,
       [x IN subs | x.id] AS chain, [r IN gs | r.id] AS guarantees
ORDER BY direction, hops, subject, chain
