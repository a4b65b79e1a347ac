// name: subject_profile
// question: Who is this subject: kind, name, country, status, its current trust score and how many loans, guarantees, blacklist entries and guarantee circles it has?
// param: id string -- the subject's id
// columns: id, kind, name, country, status, trust_score, total_risk, run, loans_borrowed, loans_lent, guarantees_given, active_entries, circles
// note: personal identifiers (birth_date, national_id) are left out; `credgraph report --with-identifiers` shows them.
// note: active_entries counts the entries active today (docs/policy.md: listed, not yet delisted or expired, not disputed); the score is the current run's, as of its own date.
MATCH (s:Subject {id: $id})
OPTIONAL MATCH (r:Run {current: true})
OPTIONAL MATCH (sc:Score {run: r.id, subject: s.id})
RETURN s.id AS id,
       CASE WHEN s:Person THEN 'person' ELSE 'firm' END AS kind,
       s.name AS name,
       s.country AS country,
       s.status AS status,
       sc.trust_score AS trust_score,
       sc.total AS total_risk,
       r.id AS run,
       COUNT { (s)-[:BORROWED]->(:Loan) } AS loans_borrowed,
       COUNT { (s)-[:LENT]->(:Loan) } AS loans_lent,
       COUNT { (s)-[:GUARANTEES]->(:Loan) } AS guarantees_given,
       COUNT { (s)-[:LISTED]->(b:BlacklistEntry)
               WHERE coalesce(b.disputed, false) = false
                 AND (b.listed_on IS NULL OR b.listed_on <= date())
                 AND (b.delisted_on IS NULL OR b.delisted_on > date())
                 AND (b.expires_on IS NULL OR b.expires_on >= date()) } AS active_entries,
       COUNT { (s)-[:IN_CIRCLE]->(c:GuaranteeCircle) WHERE c.run = r.id } AS circles
