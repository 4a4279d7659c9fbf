"""Deduction off the ingest path: meters whose readings committed wait in a set, and one
thread deducts them. The ingest worker acknowledges its messages without waiting for billing;
a meter queued many times while the thread is busy is deducted once, for all its new readings.

Nothing is lost if the process dies with meters queued: the billing cursor says what was billed,
and the scheduler's billing catch-up deducts every meter whose readings are ahead of it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from django.db import close_old_connections

log = logging.getLogger(__name__)


class DeductionQueue:
    def __init__(self) -> None:
        self._pending: set[int] = set()
        self._busy = False
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def submit(self, meter_ids: Iterable[int]) -> None:
        with self._changed:
            self._pending.update(meter_ids)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="deduction", daemon=True)
                self._thread.start()
            self._changed.notify_all()

    def drain(self, timeout_s: float = 30.0) -> bool:
        """Wait until every queued meter is deducted (tests, benchmarks); False on timeout."""
        with self._changed:
            return self._changed.wait_for(
                lambda: not self._pending and not self._busy, timeout=timeout_s
            )

    def _run(self) -> None:
        from submeter.billing.services import deduct

        while True:
            with self._changed:
                self._changed.wait_for(lambda: bool(self._pending))
                batch = sorted(self._pending)
                self._pending.clear()
                self._busy = True
            try:
                for meter_id in batch:
                    try:
                        deduct(meter_id)
                    except Exception:
                        log.exception("deduction failed for meter %s", meter_id)
            finally:
                close_old_connections()
                with self._changed:
                    self._busy = False
                    self._changed.notify_all()


deductions = DeductionQueue()
