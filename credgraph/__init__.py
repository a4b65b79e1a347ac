"""credgraph: a trust-network analyser for credit and compliance investigators.

The one import namespace of the project. Each sub-package is one of the
repository's top-level folders, linked here so that installing credgraph adds
no generic top-level name:

- ``credgraph.graph``: settings, errors, the managed server, the store
  (gateway, schema, model, lease, runs and the run store) and ``engine/``
- ``credgraph.loaders``: the input layout, readers, validation, writers, generator
- ``credgraph.services``: the use cases shared by the CLI, the API and the jobs
- ``credgraph.queries``, ``credgraph.api``, ``credgraph.jobs``, ``credgraph.cli``: the edges
"""

__version__ = "0.1.0"
