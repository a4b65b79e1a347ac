// name: score_drops
// question: Whose trust score fell most between the last two completed runs?
// param: limit int = 20 (1..1000) -- at most this many subjects
// columns: subject, name, previous, current, drop, previous_run, current_run
// note: ties go to the lower subject id; a run stores its drops against the run before it on its Score nodes (read through an index), older runs are compared here (each branch seeks with the run id or, when it does not apply, with null: no rows, no scan).
MATCH (r:Run {status: 'completed'})
WITH r ORDER BY r.started_at DESC LIMIT 2
WITH collect(r) AS runs
WHERE size(runs) = 2
WITH runs[0] AS now_run, runs[1] AS before_run
CALL (now_run, before_run) {
  MATCH (now:Score) USING INDEX now:Score(run, drop_rank)
  WHERE now.run = CASE WHEN now_run.drop_from = before_run.id THEN now_run.id END
    AND now.drop_rank <= $limit
  RETURN now, now.drop_previous AS previous, now.drop AS drop
  UNION
  MATCH (now:Score)
  WHERE now.run = CASE WHEN coalesce(now_run.drop_from <> before_run.id, true) THEN now_run.id END
    AND now.trust_score < 100
  MATCH (before:Score {run: before_run.id, subject: now.subject})
  WITH now, before.trust_score AS previous, before.trust_score - now.trust_score AS drop
  WHERE drop > 0
  RETURN now, previous, drop ORDER BY drop DESC, now.subject LIMIT $limit
}
MATCH (s:Subject {id: now.subject})
RETURN now.subject AS subject, s.name AS name, previous, now.trust_score AS current, drop,
       before_run.id AS previous_run, now_run.id AS current_run
ORDER BY drop DESC, subject
