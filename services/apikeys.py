"""API keys: created once, stored hashed, listed, revoked; a request's key to its caller.

A key is ``cg_<id>_<secret>``: ``id`` (12 hex digits) names the key in the
audit log and in ``credgraph apikey list``; ``secret`` is 32 random bytes
(``secrets.token_urlsafe``). The database keeps only the SHA-256 of the whole
key on ``(:ApiKey {id, hash, role, name, created_at, revoked_at})``: a key
with 256 bits of entropy needs no slow hash, and a stolen database yields no
key. A presented key is found by its id (one indexed read) and its hash
compared in constant time (:func:`hmac.compare_digest`). Revoking sets
``revoked_at``; a revoked key is refused from the next request on.

Roles, weakest first: ``viewer`` (subject ids, scores and explanations, no
personal identifiers), ``investigator`` (names and dates too), ``admin``
(also the audit log and run details).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any

from credgraph.graph.errors import CredgraphError, NotFound, UsageError
from credgraph.graph.gateway import Gateway
from credgraph.services.caller import Caller

ROLES = ("viewer", "investigator", "admin")
_KEY = re.compile(r"^cg_([0-9a-f]{12})_([A-Za-z0-9_-]{20,})$")


class Unauthenticated(CredgraphError):
    """No API key, or one that is unknown, malformed or revoked."""

    code = "unauthenticated"
    http_status = 401


class Forbidden(CredgraphError):
    """A valid key whose role does not allow the request."""

    code = "forbidden"
    http_status = 403


@dataclass(frozen=True)
class ApiKey:
    id: str
    role: str
    name: str | None = None

    def caller(self, purpose: str | None = None) -> Caller:
        """The caller of a use case on behalf of this key (the audit log's actor)."""
        return Caller(actor=self.id, via="api", reason=purpose, role=self.role)


def rank(role: str | None) -> int:
    """A role's rank: viewer 0, investigator 1, admin 2; anything else -1."""
    return ROLES.index(role) if role in ROLES else -1


def require_role(caller: Caller, role: str) -> None:
    """Refuse a caller whose role is weaker than ``role`` (the CLI, role None, passes)."""
    if caller.role is not None and rank(caller.role) < rank(role):
        raise Forbidden(f"this needs the {role} role; the key has the {caller.role} role")


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def check_role(role: str) -> str:
    if role not in ROLES:
        raise UsageError(f"role must be one of {', '.join(ROLES)}, not {role!r}", field="role")
    return role


def create_key(gw: Gateway, role: str, name: str | None = None) -> tuple[ApiKey, str]:
    """A new key of ``role``: returns the stored record and the key itself (shown once)."""
    check_role(role)
    key_id = secrets.token_hex(6)
    key = f"cg_{key_id}_{secrets.token_urlsafe(32)}"
    gw.write(
        "CREATE (k:ApiKey {id: $id, hash: $hash, role: $role, name: $name, "
        "created_at: datetime(), revoked_at: null})",
        id=key_id,
        hash=digest(key),
        role=role,
        name=name,
    )
    return ApiKey(key_id, role, name), key


def list_keys(gw: Gateway) -> list[dict[str, Any]]:
    """Every key's id, role, name, creation and revocation time (never a hash)."""
    return gw.read(
        "MATCH (k:ApiKey) RETURN k.id AS id, k.role AS role, k.name AS name, "
        "toString(k.created_at) AS created_at, toString(k.revoked_at) AS revoked_at "
        "ORDER BY k.created_at, k.id"
    )


def revoke_key(gw: Gateway, key_id: str) -> dict[str, Any]:
    """Revoke a key by its id (revoking twice keeps the first time)."""
    rows = gw.write(
        "MATCH (k:ApiKey {id: $id}) SET k.revoked_at = coalesce(k.revoked_at, datetime()) "
        "RETURN k.id AS id, k.role AS role, toString(k.revoked_at) AS revoked_at",
        id=key_id,
    )
    if not rows:
        raise NotFound(f"no API key {key_id!r}", field="key")
    return rows[0]


def authenticate(gw: Gateway, key: str | None) -> ApiKey:
    """The live key behind a presented key, or :class:`Unauthenticated`."""
    if not key:
        raise Unauthenticated(
            "an API key is needed", hint="send it as X-API-Key or Authorization: Bearer KEY"
        )
    m = _KEY.match(key.strip())
    if m is None:
        raise Unauthenticated("the API key is not valid")
    rows = gw.read(
        "MATCH (k:ApiKey {id: $id}) RETURN k.hash AS hash, k.role AS role, k.name AS name, "
        "k.revoked_at IS NOT NULL AS revoked",
        id=m.group(1),
    )
    # Compare even when the id is unknown, so a miss costs the same as a wrong secret.
    stored = rows[0]["hash"] if rows else "0" * 64
    ok = hmac.compare_digest(stored, digest(key.strip()))
    if not rows or not ok or rows[0]["revoked"]:
        raise Unauthenticated("the API key is not valid (unknown or revoked)")
    return ApiKey(m.group(1), rows[0]["role"], rows[0]["name"])
