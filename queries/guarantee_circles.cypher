// name: guarantee_circles
// question: Which guarantee circles (subjects that guarantee each other's loans round a loop) is this subject in, in the current run?
// param: id string -- the subject's id
// columns: circle, size, amount_inside, members
MATCH (r:Run {current: true})
MATCH (:Subject {id: $id})-[:IN_CIRCLE]->(c:GuaranteeCircle {run: r.id})
RETURN c.number AS circle, c.size AS size, c.amount_inside AS amount_inside,
       [m IN c.members | m] AS members
ORDER BY size DESC, circle
