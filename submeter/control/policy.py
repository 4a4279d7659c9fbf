"""The prepaid supply policy: from the ledger's balance to a desired supply per meter.

Work in progress (lead): evaluation, alarms, quiet hours and due cut-offs are being added here.
The command layer calls `command_settled` when a relay command reaches a final state.
"""

from __future__ import annotations

from django.utils import timezone

from submeter.control.models import (
    Command,
    CommandAction,
    CommandState,
    SupplyPhase,
    SupplyState,
)

CUT_ACTIONS = frozenset({CommandAction.TRIP, CommandAction.VALVE_CLOSE})
RESTORE_ACTIONS = frozenset({CommandAction.CLOSE, CommandAction.VALVE_OPEN})


def command_settled(command: Command) -> None:
    """Move the meter's supply phase after a relay command's outcome (R1, R6)."""
    if command.action not in CUT_ACTIONS | RESTORE_ACTIONS:
        return
    supply, _created = SupplyState.objects.get_or_create(
        meter_id=command.meter_id, defaults={"organisation_id": command.organisation_id}
    )
    cut = command.action in CUT_ACTIONS
    if command.state == CommandState.ACKNOWLEDGED and not command.mismatch:
        supply.phase = SupplyPhase.DISCONNECTED if cut else SupplyPhase.ON
        supply.relay_closed = not cut
    elif command.state == CommandState.UNKNOWN or command.mismatch:
        supply.phase = SupplyPhase.UNKNOWN
    elif supply.phase in (SupplyPhase.DISCONNECT_SENT, SupplyPhase.RECONNECT_SENT):
        # Failed or expired: the decision stands and is taken again at the next evaluation.
        supply.phase = SupplyPhase.PENDING_DISCONNECT if cut else SupplyPhase.DISCONNECTED
    supply.changed_at = timezone.now()
    supply.save(update_fields=["phase", "relay_closed", "changed_at"])
