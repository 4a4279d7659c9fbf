"""The periodic work of one process (DESIGN §4 "Periodic work"): each job runs every so many
seconds, in order, on one thread. `submeter worker` runs it in production; `submeter demo` runs
it in-process. Every job is idempotent, so a crash or an overlap with another worker bills
nothing twice and sends no command twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.db import close_old_connections
from django.db.models import F, Q
from django.utils import timezone

log = logging.getLogger(__name__)


def run_commands(now: datetime) -> object:
    from submeter.control.tasks import run_due

    return run_due(now)


def run_prepaid_policy(now: datetime) -> object:
    from submeter.control.policy import run_due

    return run_due(now)


def refresh_forecasts(now: datetime) -> object:
    from submeter.control.policy import refresh_stale

    return refresh_stale(now)


def deliver_notifications(now: datetime) -> object:
    from submeter.alarms.services import deliver_pending

    return deliver_pending(now)


def refresh_online_state(now: datetime) -> object:
    from submeter.metering.services import refresh_online_state

    return refresh_online_state()


def catch_up_billing(now: datetime) -> object:
    """Deduct meters whose readings are ahead of their billing cursor (a deduction that failed
    or was lost in a crash after the readings committed)."""
    from submeter.billing.services import deduct
    from submeter.metering.models import Meter, MeterState

    billable = Meter.objects.filter(
        customer__isnull=False, tariff__isnull=False, state=MeterState.ACTIVE
    )
    behind = billable.filter(
        Q(billing_cursor__isnull=True, last_reading_at__isnull=False)
        | Q(last_reading_at__gt=F("billing_cursor__reading_at"))
    )
    count = 0
    for meter_id in behind.values_list("pk", flat=True)[:2000]:
        deduct(meter_id)
        count += 1
    return count


@dataclass
class Job:
    name: str
    every_s: float
    run: Callable[[datetime], object]
    next_at: float = 0.0


def default_jobs() -> list[Job]:
    return [
        Job("commands", 2, run_commands),
        Job("prepaid policy", 5, run_prepaid_policy),
        Job("forecasts", 60, refresh_forecasts),
        Job("notifications", 10, deliver_notifications),
        Job("online state", 30, refresh_online_state),
        Job("billing catch-up", 60, catch_up_billing),
    ]


@dataclass
class Scheduler:
    jobs: list[Job] = field(default_factory=default_jobs)
    stopping: threading.Event = field(default_factory=threading.Event)
    on_result: Callable[[str, object], None] | None = None

    def run_pending(self) -> None:
        """Run every job whose time has come; a failing job is logged and tried next time."""
        clock = time.monotonic()
        for job in self.jobs:
            if clock < job.next_at:
                continue
            job.next_at = clock + job.every_s
            try:
                result = job.run(timezone.now())
            except Exception:
                log.exception("scheduled job %s failed", job.name)
                continue
            finally:
                close_old_connections()
            if self.on_result is not None and result:
                self.on_result(job.name, result)

    def run(self, tick_s: float = 1.0) -> None:
        while not self.stopping.is_set():
            self.run_pending()
            self.stopping.wait(tick_s)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="scheduler", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.stopping.set()
