// name: shortest_path
// question: How are two subjects connected? One shortest path of real relationships (ownership, roles, loans, guarantees), in either direction, up to a number of hops.
// param: from string -- one subject's id
// param: to string -- the other subject's id
// param: max_hops int = 6 (1..8) -- the longest path looked for (a loan between two subjects is two hops)
// columns: hops, nodes, relationships
// note: from and to the same subject: one path of 0 hops.
// note: nodes lists ids (subjects and loans); relationships the type of each hop and its direction ('>' along the path, '<' against it).
MATCH (a:Subject {id: $from}), (b:Subject {id: $to})
CALL (a, b) {
  WITH a, b WHERE a = b
  RETURN 0 AS hops, [a.id] AS nodes, [] AS relationships
  UNION
  WITH a, b WHERE a <> b
  MATCH p = shortestPath((a)-[:OWNS|LENT|BORROWED|GUARANTEES|LEGAL_REPRESENTATIVE_OF|DIRECTOR_OF|EXECUTIVE_OF|SUPERVISOR_OF*..8]-(b))
  WITH p WHERE length(p) <= $max_hops
  RETURN length(p) AS hops, [n IN nodes(p) | n.id] AS nodes,
         [i IN range(0, length(p) - 1) |
            type(relationships(p)[i]) +
            CASE WHEN startNode(relationships(p)[i]) = nodes(p)[i] THEN ' >' ELSE ' <' END] AS relationships
}
RETURN hops, nodes, relationships
