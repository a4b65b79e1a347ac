"""Pure graph algorithms (no database, no I/O): centrality and DebtRank."""
