// name: provenance
// question: Where did a record come from? The source, file, row and load of a subject, loan, blacklist entry or guarantee, and of each relationship that touches it.
// param: id string -- the id of a subject, loan, blacklist entry or guarantee
// columns: element, what, source, source_file, source_row, loaded_at, load_id, load_outcome
// note: element 'node' is the record itself (what: its label), 'relationship' one of its relationships (what: 'TYPE other-id'), 'guarantee' a GUARANTEES relationship found by its id (what: 'guarantor -> loan'). Each element holds a reference (load, file, row); the rest is one hop away on its (:Load {num: load}) record. The Load's path (where the input lay on the loading host) is not shown: the load id names the load, and the path is for operators (docs/data-model.md, Provenance).
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
  WHERE r.load IS NOT NULL
  RETURN 'relationship' AS element, type(r) + ' ' + o.id AS what, r AS e, 1 AS k
}
OPTIONAL MATCH (ld:Load {num: e.load})
RETURN element, what, ld.source AS source, ld.file_names[e.file] AS source_file,
       e.row AS source_row, toString(ld.started_at) AS loaded_at, ld.id AS load_id,
       ld.outcome AS load_outcome
ORDER BY k, what
UNION ALL
MATCH (g:Subject)-[e:GUARANTEES {id: $id}]->(l:Loan)
OPTIONAL MATCH (ld:Load {num: e.load})
RETURN 'guarantee' AS element, g.id + ' -> ' + l.id AS what, ld.source AS source,
       ld.file_names[e.file] AS source_file, e.row AS source_row,
       toString(ld.started_at) AS loaded_at, ld.id AS load_id, ld.outcome AS load_outcome
