"""The risk engine: pure functions over arrays and igraph graphs, no database.

intrinsic (own records), propagation (network risk), explain (contributions),
centrality (PageRank, betweenness, k-core, guarantee circles), debtrank (stress).
"""
