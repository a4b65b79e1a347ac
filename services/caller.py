"""Who asks: the caller of a use case, as written to the audit log."""

from __future__ import annotations

import getpass
from dataclasses import dataclass


@dataclass(frozen=True)
class Caller:
    """The person or key behind a request (PRODUCT.md, principle 6).

    ``actor`` is who asks (a login name on the CLI, an API key's id over
    HTTP), ``via`` where from (``cli``, ``api``, ``scheduler``), ``reason`` the
    why they gave (may be absent), ``role`` the API role (None on the CLI,
    where the database credentials are the entitlement).
    """

    actor: str
    via: str
    reason: str | None = None
    role: str | None = None

    @classmethod
    def local(cls, actor: str | None = None, reason: str | None = None) -> Caller:
        """A caller on this machine's command line (actor defaults to the login name)."""
        return cls(actor=actor or getpass.getuser(), via="cli", reason=reason)
