"""Words of the field that the layout, the graph model and the engine share.

Defined once here (the engine is the innermost room: the loaders' layout and the
graph model import from it, never the other way).
"""

from __future__ import annotations

ROLES: tuple[str, ...] = ("legal_representative", "director", "executive", "supervisor")
"""A person's roles in a firm (the ``roles`` file's ``role`` column), most controlling first."""
