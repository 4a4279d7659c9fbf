"""The background sender: a worker thread, started on demand, that delivers queued notifications.

`notify` and `resend` hand it notification ids with `transaction.on_commit`, so nothing is sent
for a transaction that rolls back and the caller never waits on a provider. What the worker
misses (the process stopped, a transient failure) is picked up by `deliver_pending`.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterable

from django.db import connections

log = logging.getLogger(__name__)


class Sender:
    def __init__(self) -> None:
        self._queue: queue.Queue[int] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, notification_ids: Iterable[int]) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="submeter-notify", daemon=True
                )
                self._thread.start()
        for notification_id in notification_ids:
            self._queue.put(notification_id)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until everything submitted has been handled; False on timeout."""
        with self._queue.all_tasks_done:
            return self._queue.all_tasks_done.wait_for(
                lambda: self._queue.unfinished_tasks == 0, timeout
            )

    def _run(self) -> None:
        from submeter.alarms.services import deliver

        while True:
            notification_id = self._queue.get()
            try:
                deliver(notification_id)
            except Exception:
                log.exception("notification %s: delivery failed", notification_id)
            finally:
                if self._queue.qsize() == 0:
                    connections.close_all()
                self._queue.task_done()


sender = Sender()
