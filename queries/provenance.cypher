// name: provenance
// question: Where did a record come from? The source, file, row and load of a subject, loan, blacklist entry or guarantee, and of each relationship that touches it.
// param: id string -- the id of a subject, loan, blacklist entry or guarantee
// columns: element, what, source, source_file, source_row, loaded_at, load_id, load_path, load_outcome
// note: element 'node' is the record itself (what: its label), 'relationship' one of its relationships (what: 'TYPE other-id'), 'guarantee' a GUARANTEES relationship found by its id (what: 'guarantor -> loan').
CALL () {
  MATCH (n:Subject {id: $id}) RETURN n AS x
  UNION
  MATCH (n:Loan {id: $id}) RETURN n AS x
  UNION
  MATCH (n:BlacklistEntry {id: $id}) RETURN n AS x
}
CALL (x) {
  RETURN 'node' AS element, [l IN labels(x) WHERE l <> 'Subject'][0] AS what, x AS e, 0 AS k
  UNION ALL
  MATCH (x)-[r]-(o)
  WHERE r.source IS NOT NULL
  RETURN 'relationship' AS element, type(r) + ' ' + o.id AS what, r AS e, 1 AS k
}
RETURN element, what, e.source AS source, e.source_file AS source_file, e.source_row AS source_row,
       toString(e.loaded_at) AS loaded_at, e.load_id AS load_id,
       COLLECT { MATCH (ld:Load {id: e.load_id}) RETURN ld.path }[0] AS load_path,
       COLLECT { MATCH (ld:Load {id: e.load_id}) RETURN ld.outcome }[0] AS load_outcome
ORDER BY k, what
UNION ALL
MATCH (g:Subject)-[e:GUARANTEES {id: $id}]->(l:Loan)
RETURN 'guarantee' AS element, g.id + ' -> ' + l.id AS what, e.source AS source,
       e.source_file AS source_file, e.source_row AS source_row,
       toString(e.loaded_at) AS loaded_at, e.load_id AS load_id,
       COLLECT { MATCH (ld:Load {id: e.load_id}) RETURN ld.path }[0] AS load_path,
       COLLECT { MATCH (ld:Load {id: e.load_id}) RETURN ld.outcome }[0] AS load_outcome
