"""Ending a load cleanly on SIGTERM, SIGINT or SIGHUP.

A load killed half-way used to leave its ``(:Load)`` record ``running`` and its
lease to age out. Under :class:`StopSignals` the first of these signals only
sets a flag; the load looks at it between batches (:meth:`StopSignals.check`),
lets the batches in flight commit, records the ``Load`` as ``interrupted`` with
what was written, releases the writer lease and raises :class:`Interrupted`,
whose exit code is the shell's for death by that signal (128 + its number:
143 for SIGTERM, 130 for SIGINT, 129 for SIGHUP).

A second signal is not caught: the handlers in place before the load are back
after the first, so a second Ctrl-C or SIGTERM ends the process at once, as it
would have without credgraph. What that leaves (a ``running`` record, the lease)
the next writer clears, exactly as after SIGKILL (graph/loads.py,
graph/lease.py).

A signal the process was started with ignored stays ignored: ``nohup credgraph load``
(SIGHUP) or a load started in the background by a script (SIGINT, SIGQUIT are
ignored there) is not stopped by the hang-up or the Ctrl-C it was shielded from,
as with any well-behaved Unix program.

Handlers can only be installed from the main thread; elsewhere (a load run by
a server thread) :class:`StopSignals` installs nothing and never stops.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType
from typing import Any

from credgraph.graph.errors import CredgraphError

SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class Interrupted(CredgraphError):
    """A load stopped by a signal, after its batches in flight; the record says so."""

    code = "interrupted"

    def __init__(self, message: str, *, signum: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.signum = signum
        self.exit_code = 128 + signum


class StopSignals:
    """``with StopSignals() as stop:`` catch the first SIGTERM/SIGINT/SIGHUP; ``stop.check()``
    raises :class:`Interrupted` once one came (module docstring)."""

    def __init__(self, what: str = "the load") -> None:
        self.what = what
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is None:
            self.signum = signum
        self._restore()  # a second signal acts as it would without us

    def _restore(self) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum is not None else ""

    def check(self, detail: str = "") -> None:
        """Raise :class:`Interrupted` if a stop signal came."""
        if self.signum is not None:
            raise Interrupted(
                f"{self.what} was interrupted by {self.name()}" + (f": {detail}" if detail else ""),
                signum=self.signum,
                hint="run the same load again to complete it: rows already stored are "
                "recognised and left as they are",
            )

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for signum in SIGNALS:
                if signal.getsignal(signum) is signal.SIG_IGN:
                    continue  # nohup, a background job: ignored on purpose (docstring)
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if threading.current_thread() is threading.main_thread():
            self._restore()
