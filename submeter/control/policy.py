"""The prepaid supply policy: from the ledger's balance to a desired supply per meter.

`evaluate(customer_id)` reads the wallet from the ledger (never from memory), raises balance
alarms, and moves each of the customer's meters through the R1 states:

    ON → PENDING_DISCONNECT (notice sent, due after the notice period and outside quiet windows)
       → DISCONNECT_SENT (trip command) → DISCONNECTED | UNKNOWN
    cut + balance back at the reconnect threshold → RECONNECT_SENT (close command) → ON

It runs when a ledger posting commits (the `balance_changed` signal: a top-up restores supply
at once, no polled queue in between), when a relay command settles, and from the scheduler
(`run_due`) for due cut-offs and to catch up after a crash. Re-running it changes nothing:
each command carries a decision key, one per (meter, episode).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from submeter.control.models import (
    Command,
    CommandAction,
    CommandState,
    ControlSettings,
    PrepaidPolicy,
    QuietDay,
    SupplyPhase,
    SupplyState,
)
from submeter.customers.models import Customer
from submeter.engine.supply import QuietRules, alarm_level, forecast_zero, supply_wanted
from submeter.errors import ServiceError
from submeter.ledger.choices import AccountKind, TransactionKind
from submeter.ledger.models import Account, Entry, Transaction
from submeter.metering.models import Meter, MeterKind, MeterState
from submeter.tenancy.audit import record, snapshot

log = logging.getLogger(__name__)

CUT_ACTIONS = frozenset({CommandAction.TRIP, CommandAction.VALVE_CLOSE})
RESTORE_ACTIONS = frozenset({CommandAction.CLOSE, CommandAction.VALVE_OPEN})
POLICY_KEY_PREFIX = "policy:"
FORECAST_WINDOW = timedelta(hours=24)
ZERO_SOON = timedelta(hours=24)
CUT_PHASES = frozenset({SupplyPhase.DISCONNECT_SENT, SupplyPhase.DISCONNECTED})


def quiet_rules(organisation_id: int, control: ControlSettings) -> QuietRules:
    holidays = frozenset(
        QuietDay.objects.filter(organisation_id=organisation_id).values_list("date", flat=True)
    )
    return QuietRules(
        start=control.quiet_start,
        end=control.quiet_end,
        weekends=control.quiet_weekends,
        holidays=holidays,
        extreme_weather=control.extreme_weather,
    )


def policy_for(customer: Customer, *, lock: bool = False) -> PrepaidPolicy:
    rows = PrepaidPolicy.objects.filter(customer=customer)
    if lock:
        rows = rows.select_for_update()
    policy = rows.first()
    if policy is None:
        control = ControlSettings.for_organisation(customer.organisation_id)
        policy, _created = PrepaidPolicy.objects.get_or_create(
            customer=customer,
            defaults={
                "organisation_id": customer.organisation_id,
                "alarm_levels": list(control.default_alarm_levels),
            },
        )
    return policy


def supply_for(meter: Meter) -> SupplyState:
    supply = SupplyState.objects.filter(meter=meter).first()
    if supply is None:
        supply, _created = SupplyState.objects.get_or_create(
            meter=meter, defaults={"organisation_id": meter.organisation_id}
        )
    return supply


def cut_action(meter: Meter) -> str:
    return CommandAction.TRIP if meter.kind == MeterKind.ELECTRICITY else CommandAction.VALVE_CLOSE


def restore_action(meter: Meter) -> str:
    return CommandAction.CLOSE if meter.kind == MeterKind.ELECTRICITY else CommandAction.VALVE_OPEN


@dataclass
class Evaluation:
    customer_id: int
    balance: Decimal
    alarm_level: int
    cuts_sent: list[int] = field(default_factory=list)
    restores_sent: list[int] = field(default_factory=list)
    pending: list[int] = field(default_factory=list)
    notified: list[str] = field(default_factory=list)
    notices: list[tuple[str, str, dict]] = field(default_factory=list)


def _notify(customer: Customer, kind: str, dedupe_key: str, evaluation: Evaluation, **context):
    """Note a message for the tenant; it is recorded right after the decisions commit, so a
    restore's command is on its way before any message is written."""
    evaluation.notices.append((kind, dedupe_key, context))


def _send_notices(customer: Customer, evaluation: Evaluation) -> None:
    from submeter.alarms.services import notify

    if not evaluation.notices:
        return
    with transaction.atomic():
        for kind, dedupe_key, context in evaluation.notices:
            notify(customer, kind, context=context, dedupe_key=dedupe_key)
            evaluation.notified.append(kind)


def _episode(wallet: Account | None) -> int:
    """The id of the wallet's latest credit: alarms and decisions are once per episode."""
    if wallet is None:
        return 0
    latest = (
        Entry.objects.filter(account=wallet, amount__gt=0)
        .order_by("-id")
        .values_list("id", flat=True)
        .first()
    )
    return latest or 0


def _spent_recently(customer: Customer, now: datetime) -> Decimal:
    fen = Transaction.objects.filter(
        customer=customer, kind=TransactionKind.CHARGE, created_at__gte=now - FORECAST_WINDOW
    ).aggregate(total=Sum("amount"))["total"]
    if fen is None:
        return Decimal("0.00")
    return fen if isinstance(fen, Decimal) else Decimal(fen).scaleb(-2)


def evaluate(customer_id: int, *, now: datetime | None = None) -> Evaluation:
    """Re-evaluate one customer from the ledger, in one transaction."""
    now = now or timezone.now()
    with transaction.atomic():
        customer = Customer.objects.select_related("organisation").get(pk=customer_id)
        policy = policy_for(customer, lock=True)
        control = ControlSettings.for_organisation(customer.organisation_id)
        wallet = Account.objects.filter(customer=customer, kind=AccountKind.WALLET).first()
        balance = wallet.balance if wallet else Decimal("0.00")
        overdraft = wallet.overdraft_limit if wallet else Decimal("0.00")
        episode = _episode(wallet)
        levels = [Decimal(str(level)) for level in policy.alarm_levels]
        level = alarm_level(balance, levels)
        evaluation = Evaluation(customer.pk, balance, level)

        if level > policy.alarm_level:
            _notify(
                customer,
                "balance_low",
                f"level{level}:{episode}",
                evaluation,
                level=level,
                balance=str(balance),
            )
        policy.alarm_level = level
        spent = _spent_recently(customer, now)
        policy.forecast_zero_at = forecast_zero(balance, spent, FORECAST_WINDOW, now)
        if policy.forecast_zero_at is not None and policy.forecast_zero_at - now <= ZERO_SOON:
            _notify(
                customer,
                "balance_zero_soon",
                f"zero:{episode}",
                evaluation,
                balance=str(balance),
                zero_at=policy.forecast_zero_at.isoformat(),
            )
        policy.in_arrears = balance < -overdraft
        policy.evaluated_at = now
        policy.save(update_fields=["alarm_level", "forecast_zero_at", "in_arrears", "evaluated_at"])

        local_tz = ZoneInfo(customer.organisation.time_zone or "Asia/Shanghai")
        rules = quiet_rules(customer.organisation_id, control)
        meters = Meter.objects.filter(customer=customer, state=MeterState.ACTIVE).select_related(
            "gateway"
        )
        for meter in meters:
            _apply(
                meter,
                customer=customer,
                policy=policy,
                control=control,
                rules=rules,
                local_tz=local_tz,
                balance=balance,
                overdraft=overdraft,
                episode=episode,
                now=now,
                evaluation=evaluation,
            )
    _send_notices(customer, evaluation)
    return evaluation


def _apply(
    meter: Meter,
    *,
    customer: Customer,
    policy: PrepaidPolicy,
    control: ControlSettings,
    rules: QuietRules,
    local_tz: ZoneInfo,
    balance: Decimal,
    overdraft: Decimal,
    episode: int,
    now: datetime,
    evaluation: Evaluation,
) -> None:
    supply = supply_for(meter)
    if supply.manual_hold:
        return
    decided = supply.decisions
    currently_cut = supply.phase in CUT_PHASES or (
        supply.phase == SupplyPhase.UNKNOWN and not supply.desired_on
    )
    wanted = supply_wanted(
        balance,
        overdraft,
        control.reconnect_margin,
        protected=policy.protected,
        currently_cut=currently_cut,
    )
    cause = {
        "balance": str(balance),
        "overdraft_limit": str(overdraft),
        "protected": policy.protected,
    }
    changed = False
    if wanted:
        if supply.phase == SupplyPhase.PENDING_DISCONNECT:
            supply.phase, supply.cut_due_at, supply.reason = SupplyPhase.ON, None, ""
            changed = True
        elif currently_cut:
            cause["rule"] = "balance at or above the reconnect threshold"
            if _send(meter, supply, restore_action(meter), cause, _("Balance restored")):
                supply.phase = SupplyPhase.RECONNECT_SENT
                supply.reason = _("Balance restored")
                evaluation.restores_sent.append(meter.pk)
                _notify(
                    customer,
                    "restored",
                    f"restored:{episode}",
                    evaluation,
                    balance=str(balance),
                )
                changed = True
        if not supply.desired_on:
            supply.desired_on, changed = True, True
    else:
        running = supply.phase in (SupplyPhase.ON, SupplyPhase.RECONNECT_SENT) or (
            supply.phase == SupplyPhase.UNKNOWN and supply.desired_on
        )
        if running:
            supply.phase = SupplyPhase.PENDING_DISCONNECT
            supply.cut_due_at = None
            supply.reason = _("Balance below the cut-off floor")
            changed = True
        if supply.desired_on:
            supply.desired_on, changed = False, True
        if supply.phase == SupplyPhase.PENDING_DISCONNECT:
            if supply.cut_due_at is None:
                earliest = (now + timedelta(minutes=control.cutoff_notice_minutes)).astimezone(
                    local_tz
                )
                supply.cut_due_at = rules.next_allowed(earliest)
                changed = True
                if supply.cut_due_at is not None:
                    _notify(
                        customer,
                        "cutoff_pending",
                        f"pending:{episode}",
                        evaluation,
                        balance=str(balance),
                        cutoff_at=supply.cut_due_at.isoformat(),
                    )
            evaluation.pending.append(meter.pk)
            due = supply.cut_due_at is not None and supply.cut_due_at <= now
            if due and not rules.is_quiet(now.astimezone(local_tz)):
                cause["rule"] = "balance below minus the overdraft limit"
                cause["window_checked_at"] = now.isoformat()
                if _send(meter, supply, cut_action(meter), cause, _("Arrears")):
                    supply.phase = SupplyPhase.DISCONNECT_SENT
                    evaluation.cuts_sent.append(meter.pk)
                    _notify(customer, "cut_off", f"cut:{episode}", evaluation, balance=str(balance))
                    changed = True
    if changed or supply.decisions != decided:
        supply.changed_at = now
        supply.save()


def _send(meter: Meter, supply: SupplyState, action: str, cause: dict, reason: str) -> bool:
    """Queue the policy's next decision for this meter as a command (dispatched when the
    transaction commits). False when it was refused or recorded as failed: the decision is
    taken again, under the next number, at a later evaluation."""
    from submeter.control import services

    kind = "cut" if action in CUT_ACTIONS else "restore"
    key = f"{POLICY_KEY_PREFIX}{kind}:{meter.pk}:{supply.decisions + 1}"
    try:
        with transaction.atomic():
            command = services.send(
                None, meter, action, reason=reason, cause=cause, decision_key=key
            )
    except ServiceError as refused:
        log.warning("policy command %s for meter %s refused: %s", action, meter.pk, refused)
        return False
    supply.decisions += 1
    return command.state not in (CommandState.FAILED, CommandState.CANCELLED)


def command_settled(command: Command) -> None:
    """Move the meter's supply phase after a relay command's outcome (R1, R6).

    A cut or restore that did not come from the policy (a confirmed manual cut-off, a batch,
    a timed control) sets or lifts the meter's manual hold, so the policy does not undo it.
    """
    if command.action not in CUT_ACTIONS | RESTORE_ACTIONS:
        return
    superseded = (
        Command.objects.filter(
            meter_id=command.meter_id,
            action__in=CUT_ACTIONS | RESTORE_ACTIONS,
            pk__gt=command.pk,
        )
        .exclude(state__in=[CommandState.FAILED, CommandState.CANCELLED, CommandState.EXPIRED])
        .exists()
    )
    if superseded:
        return  # a later relay command (a restore after a top-up in flight) decides the phase
    supply = supply_for(command.meter)
    cut = command.action in CUT_ACTIONS
    from_policy = (command.decision_key or "").startswith(POLICY_KEY_PREFIX)
    if command.state == CommandState.ACKNOWLEDGED and not command.mismatch:
        supply.phase = SupplyPhase.DISCONNECTED if cut else SupplyPhase.ON
        supply.relay_closed = not cut
        if not from_policy:
            supply.manual_hold = cut
            supply.desired_on = not cut
    elif command.state == CommandState.UNKNOWN or command.mismatch:
        supply.phase = SupplyPhase.UNKNOWN
    elif supply.phase in (SupplyPhase.DISCONNECT_SENT, SupplyPhase.RECONNECT_SENT):
        # Failed or expired: the decision stands and is taken again at the next evaluation.
        supply.phase = SupplyPhase.PENDING_DISCONNECT if cut else SupplyPhase.DISCONNECTED
        if cut:
            supply.cut_due_at = None
    supply.changed_at = timezone.now()
    supply.save()


def evaluate_safely(customer_id: int) -> None:
    """Evaluate after a commit; a failure is logged and caught up by the scheduler."""
    try:
        evaluate(customer_id)
    except Exception:
        log.exception("prepaid policy evaluation failed for customer %s", customer_id)


RETRY_AFTER = timedelta(seconds=30)


def run_due(now: datetime | None = None) -> int:
    """Scheduler step: evaluate the customers whose cut-off is due (or still needs a time),
    and those whose restore failed or went unanswered (again after `RETRY_AFTER`)."""
    now = now or timezone.now()
    due_cuts = SupplyState.objects.filter(phase=SupplyPhase.PENDING_DISCONNECT).exclude(
        cut_due_at__gt=now
    )
    stalled_restores = SupplyState.objects.filter(
        phase__in=[SupplyPhase.DISCONNECTED, SupplyPhase.UNKNOWN],
        desired_on=True,
        manual_hold=False,
        changed_at__lte=now - RETRY_AFTER,
    )
    customer_ids = {
        customer_id
        for rows in (due_cuts, stalled_restores)
        for customer_id in rows.exclude(meter__customer=None).values_list(
            "meter__customer_id", flat=True
        )
    }
    for customer_id in sorted(customer_ids):
        evaluate_safely(customer_id)
    return len(customer_ids)


def evaluate_all(organisation_id: int | None = None) -> int:
    """Catch up after a restart: evaluate every customer with a wallet (or of one organisation)."""
    wallets = Account.objects.filter(kind=AccountKind.WALLET)
    if organisation_id is not None:
        wallets = wallets.filter(organisation_id=organisation_id)
    customer_ids = sorted(set(wallets.values_list("customer_id", flat=True)))
    for customer_id in customer_ids:
        evaluate_safely(customer_id)
    return len(customer_ids)


@transaction.atomic
def set_protected(actor, customer: Customer, protected: bool, *, reason: str = "") -> PrepaidPolicy:
    """Protect (保电) a customer or end it; also set or clear protection on the meters."""
    from submeter.control import services

    if protected and not reason.strip():
        message = _("Give the reason for protecting this customer.")
        raise ServiceError("invalid", message, {"reason": [message]})
    policy = policy_for(customer, lock=True)
    before = snapshot(policy)
    policy.protected = protected
    policy.protected_reason = reason.strip()[:200] if protected else ""
    policy.save(update_fields=["protected", "protected_reason"])
    record(actor, "control.set_protected", policy, before=before, after=snapshot(policy))
    action = CommandAction.PROTECT if protected else CommandAction.UNPROTECT
    for meter in Meter.objects.filter(
        customer=customer, state=MeterState.ACTIVE, kind=MeterKind.ELECTRICITY
    ):
        services.send(actor, meter, action, reason=reason or str(action))
    customer_id = customer.pk
    transaction.on_commit(lambda: evaluate_safely(customer_id))
    return policy


@transaction.atomic
def restore(actor, meter: Meter, *, reason: str) -> SupplyState:
    """An operator's restore: lift a manual hold and let the policy reconnect (if the balance
    allows; a customer in arrears must be topped up or protected first)."""
    if not reason.strip():
        message = _("Give the reason for restoring supply.")
        raise ServiceError("invalid", message, {"reason": [message]})
    supply = supply_for(meter)
    before = snapshot(supply)
    if meter.customer_id is None:
        raise ServiceError("no_customer", _("This meter has no customer."), status=409)
    wallet = Account.objects.filter(customer_id=meter.customer_id, kind=AccountKind.WALLET).first()
    balance = wallet.balance if wallet else Decimal("0.00")
    overdraft = wallet.overdraft_limit if wallet else Decimal("0.00")
    policy = policy_for(meter.customer)
    control = ControlSettings.for_organisation(meter.organisation_id)
    if not supply_wanted(
        balance, overdraft, control.reconnect_margin, protected=policy.protected, currently_cut=True
    ):
        message = _(
            "The balance (¥%(balance)s) is below the reconnect threshold: top up or protect first."
        ) % {"balance": balance}
        raise ServiceError("balance_too_low", message, status=409)
    supply.manual_hold = False
    if supply.phase == SupplyPhase.ON:
        supply.phase = SupplyPhase.DISCONNECTED
    supply.desired_on = False
    supply.reason = reason.strip()[:200]
    supply.changed_at = timezone.now()
    supply.save()
    record(actor, "control.restore", supply, before=before, after=snapshot(supply))
    customer_id = meter.customer_id
    transaction.on_commit(lambda: evaluate_safely(customer_id))
    return supply


def on_balance_changed(sender, *, customer_id: int, **kwargs) -> None:
    """A wallet posting committed: re-evaluate at once (a top-up restores supply now)."""
    if not nothing_to_decide(customer_id):
        evaluate_safely(customer_id)


def nothing_to_decide(customer_id: int) -> bool:
    """The common case after a charge, answered in three small queries: the balance is above
    every alarm level and the floor, no alarm or arrears is standing, and every meter's supply
    is on. Then an evaluation would change nothing but the forecast, which `refresh_stale`
    keeps up to date."""
    wallet = (
        Account.objects.filter(customer_id=customer_id, kind=AccountKind.WALLET)
        .values_list("balance", "overdraft_limit")
        .first()
    )
    standing = (
        PrepaidPolicy.objects.filter(customer_id=customer_id)
        .values_list("alarm_levels", "alarm_level", "in_arrears")
        .first()
    )
    if wallet is None or standing is None:
        return False
    balance, overdraft = wallet
    levels, reached, in_arrears = standing
    if reached or in_arrears or balance < -overdraft:
        return False
    if alarm_level(balance, [Decimal(str(level)) for level in levels]):
        return False
    return not (
        SupplyState.objects.filter(meter__customer_id=customer_id)
        .exclude(phase=SupplyPhase.ON, manual_hold=False)
        .exists()
    )


STALE_AFTER = timedelta(hours=1)
STALE_PER_RUN = 500


def refresh_stale(now: datetime | None = None) -> int:
    """Scheduler step: re-evaluate customers not evaluated for an hour (their forecast and the
    "balance will run out" reminder), a few hundred per run."""
    now = now or timezone.now()
    customer_ids = list(
        PrepaidPolicy.objects.filter(evaluated_at__lt=now - STALE_AFTER)
        .order_by("evaluated_at")
        .values_list("customer_id", flat=True)[:STALE_PER_RUN]
    )
    for customer_id in customer_ids:
        evaluate_safely(customer_id)
    return len(customer_ids)
