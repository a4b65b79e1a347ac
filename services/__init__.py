"""The use cases: what a user can ask of credgraph, shared by every edge.

The CLI (``credgraph.cli``), the HTTP API (``credgraph.api``) and the scheduled
jobs (``credgraph.jobs``) parse their input, call one function here and print
or serialise its answer; no business rule lives in an edge, so the edges cannot
disagree. A use case that shows a subject's data writes its own audit event
before it answers (:mod:`credgraph.services.scores`): no caller can skip it.

Errors are :class:`credgraph.graph.errors.CredgraphError` with a ``code`` and,
where an input is at fault, the ``field``; each edge words its own hint.
"""
