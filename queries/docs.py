"""The library's documents: ``docs/queries.md`` from the headers, and the Neo4j
Browser favourites (a zip of ``.cypher`` files the Browser's Favorites drawer imports)."""

from __future__ import annotations

import io
import zipfile

from credgraph.queries.library import NamedQuery


def markdown(queries: list[NamedQuery]) -> str:
    """``docs/queries.md``: every named query's question, parameters, columns and Cypher."""
    out = [
        "# Named queries",
        "",
        "Generated from the headers of `queries/*.cypher` by "
        "`credgraph query --list --format markdown > docs/queries.md`; a test fails "
        "when this file is out of date. Run one with "
        "`credgraph query NAME --param K=V ... [--format table|csv|json]`; every run is "
        "written to the audit log (action `query:NAME`).",
        "",
        "| query | question |",
        "|---|---|",
    ]
    out += [f"| [`{q.name}`](#{q.name}) | {q.question} |" for q in queries]
    for q in queries:
        out += ["", f"## {q.name}", "", q.question, ""]
        if q.params:
            out += ["| parameter | type | default | range | meaning |", "|---|---|---|---|---|"]
            for p in q.params:
                default = "required" if p.required else f"`{p.default_text()}`"
                out.append(f"| `{p.name}` | {p.type} | {default} | {p.range_text()} | {p.help} |")
        else:
            out.append("No parameters.")
        out += ["", "Columns: " + ", ".join(f"`{c}`" for c in q.columns) + "."]
        for note in q.notes:
            out += ["", note[0].upper() + note[1:]]
        example = " ".join(f"--param {p.name}=..." for p in q.params if p.required)
        out += ["", "```", f"credgraph query {q.name} {example}".rstrip(), "```"]
        out += ["", "```cypher", q.cypher, "```"]
    return "\n".join(out) + "\n"


def favourites_zip(queries: list[NamedQuery]) -> bytes:
    """A zip of one ``NAME.cypher`` per query for Neo4j Browser's Favorites import.

    The Browser names a favourite after its first comment line; the parameters
    are set in the Browser with ``:param`` (shown in a comment) before running it.
    """
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for q in queries:
            lines = [f"// {q.name}: {q.question}"]
            for p in q.params:
                if p.required or p.default is None:
                    example = {
                        "string": "'...'",
                        "int": "1",
                        "float": "0.5",
                        "bool": "true",
                        "date": "date()",
                    }[p.type]
                elif p.type == "string":
                    example = f"'{p.default}'"
                else:
                    example = str(p.default).lower() if p.type == "bool" else str(p.default)
                lines.append(f"// :param {p.name} => {example}   // {p.describe()}: {p.help}")
            lines.append(q.cypher)
            z.writestr(f"credgraph/{q.name}.cypher", "\n".join(lines) + "\n")
    return buf.getvalue()
