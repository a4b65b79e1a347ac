// name: systemic_subjects
// question: Which subjects are most systemic in the current run, by PageRank on the exposure graph, betweenness or k-core number?
// param: by string = pagerank {pagerank, betweenness, kcore} -- the measure to rank by
// param: limit int = 20 (1..1000) -- at most this many subjects
// columns: subject, name, kind, pagerank, betweenness, kcore, circle, trust_score
// note: ties go to the lower subject id; a run stores each measure's rank on its Score nodes (read through an index), runs stored before it are sorted here. Each branch seeks its index with the run id or, when it does not apply, with null (no rows), so the planner cannot scan a branch it then filters out.
MATCH (r:Run {current: true})
CALL (r) {
  MATCH (sc:Score) USING INDEX sc:Score(run, pagerank_rank)
  WHERE sc.run = CASE WHEN r.ranked AND $by = 'pagerank' THEN r.id END AND sc.pagerank_rank <= $limit
  RETURN sc
  UNION
  MATCH (sc:Score) USING INDEX sc:Score(run, betweenness_rank)
  WHERE sc.run = CASE WHEN r.ranked AND $by = 'betweenness' THEN r.id END AND sc.betweenness_rank <= $limit
  RETURN sc
  UNION
  MATCH (sc:Score) USING INDEX sc:Score(run, kcore_rank)
  WHERE sc.run = CASE WHEN r.ranked AND $by = 'kcore' THEN r.id END AND sc.kcore_rank <= $limit
  RETURN sc
  UNION
  MATCH (sc:Score)
  WHERE sc.run = CASE WHEN r.ranked IS NULL THEN r.id END
  WITH sc, CASE $by WHEN 'pagerank' THEN sc.pagerank WHEN 'betweenness' THEN sc.betweenness
                    ELSE toFloat(sc.kcore) END AS measure
  ORDER BY measure DESC, sc.subject
  LIMIT $limit
  RETURN sc
}
WITH sc, CASE $by WHEN 'pagerank' THEN sc.pagerank WHEN 'betweenness' THEN sc.betweenness
                  ELSE toFloat(sc.kcore) END AS measure
MATCH (s:Subject {id: sc.subject})
RETURN sc.subject AS subject, s.name AS name, sc.kind AS kind, sc.pagerank AS pagerank,
       sc.betweenness AS betweenness, sc.kcore AS kcore,
       CASE WHEN sc.circle >= 0 THEN sc.circle END AS circle, sc.trust_score AS trust_score
ORDER BY measure DESC, subject
