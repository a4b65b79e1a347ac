"""The managed local Neo4j server: jars from Maven Central, run under $CREDGRAPH_HOME."""

from credgraph.graph.managed.server import ManagedServer

__all__ = ["ManagedServer"]
