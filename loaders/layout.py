"""The input layout of the product contract, as data.

One :class:`FileSpec` per optional input file (``persons.csv`` or
``persons.parquet`` and so on). Readers, validation, the generator and the
projection-from-files all read this table; nothing else spells out columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from credgraph.graph.engine.vocabulary import ROLES

ColumnType = Literal["str", "date", "amount", "share", "severity", "int", "enum"]

#: The longest text, in UTF-8 bytes, of a value Neo4j keeps in an index or a uniqueness
#: constraint (ids, references, names, list names, FtM aliases). Neo4j refuses an index
#: key past about 8 KB, and fails the whole transaction when it meets one; half of that
#: leaves room for composite keys such as ``(Score.run, Score.subject)``.
MAX_INDEXED_BYTES = 4096
#: The longest of any other text, in UTF-8 bytes (``reason``, ``source_url``, FtM notes):
#: more is not a record of a person or firm but a file in a field, and a batch of such
#: values (5,000 rows of 100 KB) is more than the server takes in one message.
MAX_TEXT_BYTES = 1_048_576
#: The most text, in bytes (about), one batch of rows holds: the validator and the
#: writer cut batches short where their rows' text passes it (rows of long free text).
MAX_BATCH_TEXT = 8_000_000
#: The longest text of a number (amounts, shares, severities, whole numbers).
MAX_NUMBER_CHARS = 100
#: The largest whole number Neo4j stores (a signed 64-bit integer).
MAX_INT = 2**63 - 1


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType = "str"
    required: bool = False
    enum: tuple[str, ...] = ()
    # For reference columns: which id space the value must exist in.
    references: Literal["subject", "person", "firm", "loan"] | None = None
    # A text Neo4j indexes (name, list): at most MAX_INDEXED_BYTES. Keys and
    # references are indexed whatever this says.
    indexed: bool = False


@dataclass(frozen=True)
class FileSpec:
    name: str
    columns: tuple[Column, ...]
    # Column that identifies a row (None: identified by a composite key).
    key: str | None = "id"
    composite_key: tuple[str, ...] = field(default_factory=tuple)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def is_id(self, column: Column) -> bool:
        """True for the file's key columns and its references: ids, held to the id rules."""
        return (
            column.name == self.key
            or column.name in self.composite_key
            or column.references is not None
        )

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


FIRM_STATUSES = ("active", "dissolved", "bankrupt")
LOAN_STATUSES = ("performing", "overdue", "defaulted", "repaid", "written_off")
GUARANTEE_KINDS = ("joint", "limited", "collateral")

PERSONS = FileSpec(
    "persons",
    (
        Column("id", required=True),
        Column("name", required=True, indexed=True),
        Column("birth_date", "date"),
        Column("country"),
        Column("national_id"),
        Column("net_worth", "amount"),
    ),
)
FIRMS = FileSpec(
    "firms",
    (
        Column("id", required=True),
        Column("name", required=True, indexed=True),
        Column("registration_no"),
        Column("country"),
        Column("region"),
        Column("industry"),
        Column("founded_on", "date"),
        Column("status", "enum", enum=FIRM_STATUSES),
        Column("registered_capital", "amount"),
        Column("equity", "amount"),
        Column("total_assets", "amount"),
    ),
)
ROLES_FILE = FileSpec(
    "roles",
    (
        Column("person_id", required=True, references="person"),
        Column("firm_id", required=True, references="firm"),
        Column("role", "enum", required=True, enum=ROLES),
        Column("since", "date"),
        Column("until", "date"),
    ),
    key=None,
    composite_key=("person_id", "firm_id", "role"),
)
OWNERSHIP = FileSpec(
    "ownership",
    (
        Column("owner_id", required=True, references="subject"),
        Column("firm_id", required=True, references="firm"),
        Column("share", "share", required=True),
        Column("since", "date"),
        Column("until", "date"),
    ),
    key=None,
    composite_key=("owner_id", "firm_id"),
)
LOANS = FileSpec(
    "loans",
    (
        Column("id", required=True),
        Column("lender_id", required=True, references="subject"),
        Column("borrower_id", required=True, references="subject"),
        Column("amount", "amount", required=True),
        Column("currency"),
        Column("issued_on", "date", required=True),
        Column("maturity_on", "date"),
        Column("status", "enum", required=True, enum=LOAN_STATUSES),
        Column("status_on", "date"),
        Column("days_overdue", "int"),
    ),
)
GUARANTEES = FileSpec(
    "guarantees",
    (
        Column("id", required=True),
        Column("guarantor_id", required=True, references="subject"),
        Column("loan_id", required=True, references="loan"),
        Column("amount", "amount", required=True),
        Column("kind", "enum", enum=GUARANTEE_KINDS),
        Column("since", "date"),
        Column("until", "date"),
    ),
)
BLACKLIST = FileSpec(
    "blacklist",
    (
        Column("id", required=True),
        Column("subject_id", required=True, references="subject"),
        Column("list", required=True, indexed=True),
        Column("authority"),
        Column("reason"),
        Column("listed_on", "date", required=True),
        Column("expires_on", "date"),
        Column("delisted_on", "date"),
        Column("severity", "severity"),
        Column("source_url"),
    ),
)

# Load order: every file only references files before it.
FILES: tuple[FileSpec, ...] = (PERSONS, FIRMS, ROLES_FILE, OWNERSHIP, LOANS, GUARANTEES, BLACKLIST)
BY_NAME: dict[str, FileSpec] = {f.name: f for f in FILES}
