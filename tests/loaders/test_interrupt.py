"""loaders/interrupt.py without a server: which signals a load catches."""

from __future__ import annotations

import signal

from credgraph.loaders.interrupt import StopSignals


def test_a_signal_ignored_at_start_stays_ignored() -> None:
    """`nohup credgraph load` ignores SIGHUP: the load must not be stopped by a hang-up."""
    before = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with StopSignals() as stop:
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
            signal.raise_signal(signal.SIGHUP)
            assert not stop.requested
            stop.check()  # no Interrupted
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, before)


def test_a_signal_not_ignored_is_caught_then_restored() -> None:
    before = signal.signal(signal.SIGHUP, signal.SIG_DFL)
    try:
        with StopSignals() as stop:
            assert signal.getsignal(signal.SIGHUP) not in (signal.SIG_DFL, signal.SIG_IGN)
            signal.raise_signal(signal.SIGHUP)
            assert stop.requested and stop.name() == "SIGHUP"
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_DFL
    finally:
        signal.signal(signal.SIGHUP, before)
