// name: lender_exposure
// question: What is a lender's exposure to blacklisted or defaulted subjects, directly (it lent to them) and through guarantees (a guarantor of its loan is one, or its borrower guarantees a loan of one)?
// param: lender string -- the lender's id
// param: as_of date = today -- blacklist entries active on this date count
// columns: route, loan, amount, counterparty, name, adverse
// note: adverse = a blacklist entry active on as_of as docs/policy.md defines it (listed on or before as_of, not delisted on or before it, not expired before it, not disputed; 'listed:LIST') or a defaulted or written-off loan it borrowed (not disputed, its status_on, else issued_on, on or before as_of; 'defaulted:LOAN'). Loans and guarantees count while they carry exposure on as_of as docs/policy.md says (a loan from issued_on until repaid; a guarantee between since and until). route 'direct': the borrower of the lender's loan is adverse (amount: the loan's); 'guarantor': a guarantor of the lender's loan is adverse (amount: the guarantee's); 'guarantee_given': the lender's borrower guarantees a loan of an adverse subject (amount: that guarantee's).
WITH coalesce($as_of, date()) AS day
MATCH (lender:Subject {id: $lender})-[:LENT]->(l:Loan)<-[:BORROWED]-(b:Subject)
WHERE (l.issued_on IS NULL OR l.issued_on <= day)
  AND NOT (l.status = 'repaid' AND coalesce(l.status_on <= day, true))
CALL (l, b, day) {
  RETURN 'direct' AS route, l.amount AS amount, b AS c
  UNION ALL
  MATCH (g:Subject)-[gr:GUARANTEES]->(l)
  WHERE (gr.since IS NULL OR gr.since <= day) AND (gr.until IS NULL OR gr.until >= day)
  RETURN 'guarantor' AS route, gr.amount AS amount, g AS c
  UNION ALL
  MATCH (b)-[gr:GUARANTEES]->(y:Loan)<-[:BORROWED]-(d:Subject)
  WHERE d <> b
    AND (gr.since IS NULL OR gr.since <= day) AND (gr.until IS NULL OR gr.until >= day)
    AND (y.issued_on IS NULL OR y.issued_on <= day)
    AND NOT (y.status = 'repaid' AND coalesce(y.status_on <= day, true))
  RETURN 'guarantee_given' AS route, gr.amount AS amount, d AS c
}
CALL (c, day) {
  MATCH (c)-[:LISTED]->(e:BlacklistEntry)
  WHERE coalesce(e.disputed, false) = false
    AND (e.listed_on IS NULL OR e.listed_on <= day)
    AND (e.delisted_on IS NULL OR e.delisted_on > day)
    AND (e.expires_on IS NULL OR e.expires_on >= day)
  RETURN 'listed:' + e.list AS why
  UNION
  MATCH (c)-[:BORROWED]->(x:Loan)
  WHERE x.status IN ['defaulted', 'written_off'] AND coalesce(x.disputed, false) = false
    AND coalesce(x.status_on, x.issued_on, day) <= day
  RETURN 'defaulted:' + x.id AS why
}
WITH route, l, amount, c, why ORDER BY why
WITH route, l, amount, c, collect(why) AS adverse
RETURN route, l.id AS loan, amount, c.id AS counterparty, c.name AS name, adverse
ORDER BY route, loan, counterparty
