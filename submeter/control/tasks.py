"""The periodic side of control, run every few seconds by `submeter worker`.

Commands are dispatched when they are recorded; this only catches up what time makes due:
due batch tasks and timed controls, queued commands whose meter came back (or that expired),
sent commands without an answer (retry, then UNKNOWN and a read-back), and UNKNOWN commands
whose read-back brought nothing.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime

from django.utils import timezone

from submeter.control import services
from submeter.control.models import Command, CommandBatch, CommandState, ControlSchedule
from submeter.errors import ServiceError

logger = logging.getLogger(__name__)

BATCH_LIMIT = 5_000
"""Commands looked at per state per run; the rest wait for the next run."""


def run_due(now: datetime | None = None) -> dict[str, int]:
    """Do what is due at `now`; returns counts of what was done (empty keys left out)."""
    now = now or timezone.now()
    done: Counter[str] = Counter()
    for batch in CommandBatch.objects.filter(started_at__isnull=True, run_at__lte=now).order_by(
        "run_at", "pk"
    ):
        try:
            services.run_batch(batch)
        except ServiceError as exc:
            logger.warning("batch %s not run: %s", batch.pk, exc.message)
            continue
        done["batches"] += 1
    for schedule_pk in ControlSchedule.objects.filter(enabled=True).values_list("pk", flat=True):
        if services.run_schedule_if_due(schedule_pk, now) is not None:
            done["schedules"] += 1
    due = Command.objects.filter(next_attempt_at__lte=now).order_by("next_attempt_at", "pk")
    for pk in due.filter(state=CommandState.QUEUED).values_list("pk", flat=True)[:BATCH_LIMIT]:
        if outcome := services.dispatch_queued(pk, now):
            done[outcome] += 1
    for pk in due.filter(state=CommandState.SENT).values_list("pk", flat=True)[:BATCH_LIMIT]:
        if outcome := services.retry_sent(pk, now):
            done[outcome] += 1
    unknown = due.filter(state=CommandState.UNKNOWN, resends__isnull=True)
    for pk in unknown.values_list("pk", flat=True)[:BATCH_LIMIT]:
        if outcome := services.read_back_unknown(pk, now):
            done[outcome] += 1
    return {key: count for key, count in done.items() if count}
