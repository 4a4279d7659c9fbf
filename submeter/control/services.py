"""Every state change of commands: send, acknowledge, retry, settle, cancel, resend; the two-step
manual cut-off; batch tasks and timed controls; power limits.

A command is dispatched when the transaction that recorded it commits (`transaction.on_commit`),
never through a polled queue: a restore after a top-up reaches the meter in milliseconds. The
periodic `tasks.run_due` only retries, expires, reads back and runs what was scheduled.

Who refuses what (R3, R8):
* a cut-off (trip, valve close) of a protected customer's meter raises ServiceError `protected`,
  whoever asks;
* over a relay rate limit, a request by a person (an `actor` and no batch) raises ServiceError
  `rate_limited` (HTTP 429) and records nothing; an automatic one (the policy, a batch, a timed
  control) is recorded FAILED with error code `rate_limited`, so the refusal stays visible in the
  failed list and the policy sees it settle.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from submeter.control import policy, transport
from submeter.control.models import (
    RELAY_ACTIONS,
    Command,
    CommandAction,
    CommandBatch,
    CommandState,
    ControlSchedule,
    ControlSettings,
    PrepaidPolicy,
    SupplyState,
)
from submeter.errors import ServiceError
from submeter.metering.models import Meter, MeterKind, MeterState, OnlineState
from submeter.protocols import mqtt_payloads as wire
from submeter.protocols.cjt188 import ValveState
from submeter.tenancy.audit import record
from submeter.tenancy.roles import CONTROL_OPERATE

logger = logging.getLogger(__name__)

CUT_ACTIONS = frozenset({CommandAction.TRIP, CommandAction.VALVE_CLOSE})
RESTORE_ACTIONS = frozenset({CommandAction.CLOSE, CommandAction.VALVE_OPEN})
FINAL_STATES = frozenset(
    {
        CommandState.ACKNOWLEDGED,
        CommandState.FAILED,
        CommandState.EXPIRED,
        CommandState.CANCELLED,
    }
)
RESENDABLE_STATES = frozenset({CommandState.FAILED, CommandState.EXPIRED, CommandState.UNKNOWN})
CUTOFF_TOKEN_SALT = "submeter.control.cutoff"
CUTOFF_TOKEN_MAX_AGE_S = 300
READ_BACK_MAX_INTERVAL = timedelta(minutes=10)
MAX_POWER_LIMIT_KW = Decimal("10000")


def is_protected(meter: Meter) -> bool:
    """R3: the meter's customer is protected (保电)."""
    return meter.customer_id is not None and (
        PrepaidPolicy.objects.filter(customer_id=meter.customer_id, protected=True).exists()
    )


def _actor_name(actor) -> str:
    return getattr(actor, "username", "") or "system"


def _audit(actor, action: str, command: Command, before: str | None = None, **after: Any) -> None:
    record(
        actor,
        action,
        command,
        before={"state": before} if before is not None else None,
        after={"state": command.state, **after},
    )


# --- send --------------------------------------------------------------------------------------


def _rate_limit(meter: Meter, settings: ControlSettings, now: datetime) -> str:
    """R8: why a relay command to this meter is refused now ("" when it is not)."""
    counted = Command.objects.filter(action__in=RELAY_ACTIONS).exclude(
        Q(error_code="rate_limited") | Q(state=CommandState.CANCELLED)
    )
    per_meter = counted.filter(meter=meter, created_at__gte=now - timedelta(hours=1)).count()
    if per_meter >= settings.relay_actions_per_meter_per_hour:
        return _("This meter already had %(count)d relay commands in the last hour.") % {
            "count": per_meter
        }
    per_org = counted.filter(
        organisation_id=meter.organisation_id, created_at__gte=now - timedelta(minutes=1)
    ).count()
    if per_org >= settings.relay_actions_per_org_per_minute:
        return _("The organisation already sent %(count)d relay commands in the last minute.") % {
            "count": per_org
        }
    return ""


def _wire_command(command: Command, settings: ControlSettings) -> wire.Command:
    params = command.params or {}
    action = wire.CommandAction(command.action)
    close_mode = registers = prices = power_limit = None
    if action is wire.CommandAction.CLOSE:
        close_mode = wire.CloseMode(params.get("mode") or settings.close_mode)
    elif action is wire.CommandAction.READ:
        registers = tuple(params.get("registers") or ()) or None
    elif action is wire.CommandAction.SET_PRICE:
        prices = {rate: Decimal(price) for rate, price in (params.get("prices") or {}).items()}
    elif action is wire.CommandAction.SET_POWER_LIMIT:
        power_limit = Decimal(params["power_limit_kw"])
    return wire.Command(
        command_id=command.command_id,
        meter_address=command.meter.address,
        action=action,
        issued_at=timezone.now(),
        expires_at=command.expires_at,
        close_mode=close_mode,
        registers=registers,
        prices=prices,
        power_limit_kw=power_limit,
    )


def _target(meter: Meter) -> transport.Target | None:
    gateway = meter.gateway
    if gateway is None:
        return None
    return transport.Target(
        organisation_id=meter.organisation_id,
        organisation_code=meter.organisation.code,
        gateway_serial=gateway.serial,
        gateway_protocol=gateway.protocol,
        gateway_address=gateway.address,
        meter_address=meter.address,
        meter_model=meter.model,
    )


def _offline(meter: Meter) -> bool:
    gateway = meter.gateway
    return meter.online_state == OnlineState.OFFLINE or (
        gateway is not None and gateway.online_state == OnlineState.OFFLINE
    )


@dataclass(frozen=True, slots=True)
class _Dispatch:
    """What an after-commit dispatch needs, gathered inside the transaction."""

    pk: int
    target: transport.Target
    command: wire.Command
    timeout: timedelta

    def __call__(self) -> None:
        now = timezone.now()
        sent = Command.objects.filter(pk=self.pk, state=CommandState.QUEUED).update(
            state=CommandState.SENT,
            attempts=F("attempts") + 1,
            sent_at=now,
            next_attempt_at=now + self.timeout,
            error_code="",
            error="",
        )
        if sent:
            _deliver(self.pk, self.target, self.command)


def _deliver(pk: int, target: transport.Target, command: wire.Command) -> None:
    try:
        transport.deliver(target, command)
    except (transport.TransportError, OSError) as exc:
        logger.warning("command %s not handed over: %s", command.command_id, exc)
        Command.objects.filter(pk=pk).update(error=str(exc)[:300])


def _refuse(actor, code: str, message: str, batch: CommandBatch | None) -> None:
    """A person is told at once; an automatic request is recorded as refused."""
    if actor is not None and batch is None:
        status = 429 if code == "rate_limited" else 409
        raise ServiceError(code, message, status=status)


@transaction.atomic
def send(
    actor,
    meter: Meter,
    action: str,
    *,
    params: dict[str, Any] | None = None,
    reason: str = "",
    cause: dict[str, Any] | None = None,
    decision_key: str | None = None,
    batch: CommandBatch | None = None,
    resend_of: Command | None = None,
    read_back_for: Command | None = None,
) -> Command:
    """Record one command and dispatch it when the transaction commits.

    `actor` None means the system (the policy, a timed control). With `decision_key`, a second
    call with the same key returns the first command unchanged (one command per decision, L5).
    Raises ServiceError for a protected cut-off, or for a person over a rate limit (see the
    module docstring); an automatic request over a limit comes back FAILED."""
    action = CommandAction(action)
    if decision_key:
        existing = Command.objects.filter(
            organisation_id=meter.organisation_id, decision_key=decision_key
        ).first()
        if existing is not None:
            return existing
    if action in CUT_ACTIONS and is_protected(meter):
        raise ServiceError(
            "protected",
            _("The customer of meter %(meter)s is protected (保电): no cut-off.")
            % {"meter": meter.address},
            status=409,
        )
    settings = ControlSettings.for_organisation(meter.organisation_id)
    now = timezone.now()
    timeout = timedelta(seconds=settings.command_timeout_seconds)
    command = Command(
        organisation_id=meter.organisation_id,
        meter=meter,
        action=action,
        params=params or {},
        decision_key=decision_key or None,
        cause={**(cause or {}), "actor": _actor_name(actor)},
        reason=reason[:200],
        requested_by=actor if getattr(actor, "pk", None) else None,
        batch=batch,
        resend_of=resend_of,
        read_back_for=read_back_for,
        created_at=now,
        next_attempt_at=now + timeout,
        expires_at=now + timedelta(minutes=settings.command_expiry_minutes),
    )
    refusal_code, refusal = "", ""
    target = _target(meter)
    if target is None:
        refusal_code, refusal = "no_gateway", _("This meter is not behind a gateway.")
    elif action in RELAY_ACTIONS:
        refusal = _rate_limit(meter, settings, now)
        refusal_code = "rate_limited" if refusal else ""
    if refusal:
        _refuse(actor, refusal_code, refusal, batch)
        command.state = CommandState.FAILED
        command.error_code, command.error = refusal_code, refusal[:300]
        command.finished_at = now
    try:
        with transaction.atomic():
            command.save()
    except IntegrityError:
        if not decision_key:
            raise
        return Command.objects.get(organisation_id=meter.organisation_id, decision_key=decision_key)
    _audit(actor, "command.send", command, reason=command.reason, cause=command.cause)
    if command.state == CommandState.FAILED:
        _settled(command)
        return command
    if _offline(meter):
        command.error_code = "meter_offline"
        command.error = _("The meter is offline; the command waits until it expires.")
        command.save(update_fields=["error_code", "error"])
        return command
    assert target is not None
    transaction.on_commit(_Dispatch(command.pk, target, _wire_command(command, settings), timeout))
    return command


def _settled(command: Command) -> None:
    if command.action in RELAY_ACTIONS:
        policy.command_settled(command)


# --- acknowledgements --------------------------------------------------------------------------


def _expected(action: str, params: dict[str, Any]) -> str | None:
    """The relay/valve state an acknowledged relay action should report."""
    if action == CommandAction.TRIP:
        return wire.RelayState.OPEN
    if action == CommandAction.CLOSE:
        return None if params.get("mode") == wire.CloseMode.ALLOWED else wire.RelayState.CLOSED
    if action == CommandAction.VALVE_CLOSE:
        return ValveState.CLOSED
    if action == CommandAction.VALVE_OPEN:
        return ValveState.OPEN
    return None


def reported_label(meter: Meter, reported: str) -> str:
    """A relay or valve state as the meter reported it, in words."""
    if meter.kind == MeterKind.ELECTRICITY:
        labels = {"open": _("relay open"), "closed": _("relay closed")}
    else:
        labels = {"open": _("valve open"), "closed": _("valve closed")}
    return str(labels.get(reported, reported))


def _reported(ack: wire.CommandAck) -> str | None:
    if ack.relay_state is not None and ack.relay_state is not wire.RelayState.UNKNOWN:
        return str(ack.relay_state)
    if ack.valve_state is not None and ack.valve_state is not ValveState.UNKNOWN:
        return str(ack.valve_state)
    return None


def _supply_closed(meter: Meter, reported: str) -> bool:
    """relay closed / valve open = supply on."""
    if meter.kind == MeterKind.ELECTRICITY:
        return reported == wire.RelayState.CLOSED
    return reported == ValveState.OPEN


def _note_supply(command: Command, reported: str | None, **fields: Any) -> None:
    if reported is None and not fields:
        return
    supply, _created = SupplyState.objects.get_or_create(
        meter_id=command.meter_id, defaults={"organisation_id": command.organisation_id}
    )
    if reported is not None:
        supply.relay_closed = _supply_closed(command.meter, reported)
    for name, value in fields.items():
        setattr(supply, name, value)
    supply.save(update_fields=["relay_closed", *fields])


def _answer(ack: wire.CommandAck) -> dict[str, Any]:
    return {
        key: value
        for key, value in wire.ack_document(ack).items()
        if key not in ("gateway_id", "command_id")
    }


def _finish(command: Command, state: str, **fields: Any) -> None:
    before = command.state
    command.state = state
    command.finished_at = timezone.now()
    for name, value in fields.items():
        setattr(command, name, value)
    command.save()
    _audit(None, f"command.{state}", command, before, error=command.error)
    _settled(command)


@transaction.atomic
def record_ack(organisation: str | int, ack: wire.CommandAck) -> Command | None:
    """Record a meter's answer to a command (matched by command id within the organisation,
    given by code or id). Unknown ids and answers to finished commands change nothing."""
    commands = Command.objects.select_for_update(of=("self",)).filter(command_id=ack.command_id)
    if isinstance(organisation, int):
        commands = commands.filter(organisation_id=organisation)
    else:
        commands = commands.filter(organisation__code=organisation)
    command = commands.select_related("meter").first()
    if command is None:
        logger.info("ack for unknown command %s ignored", ack.command_id)
        return None
    if command.state in FINAL_STATES:
        logger.info("late ack for %s command %s ignored", command.state, ack.command_id)
        return command
    if ack.meter_address != command.meter.address:
        logger.warning(
            "ack for command %s names meter %s, not %s: ignored",
            ack.command_id,
            ack.meter_address,
            command.meter.address,
        )
        return command
    if ack.result is wire.AckResult.ERROR:
        code = ack.error_code or "error"
        message = (ack.error_message or code)[:300]
        if code in transport.TRANSIENT_ERRORS and command.state == CommandState.SENT:
            command.error_code, command.error = code, message
            command.save(update_fields=["error_code", "error"])
            return command
        if command.state == CommandState.UNKNOWN:
            logger.info("error ack for unknown command %s: still unknown", ack.command_id)
            return command
        state = CommandState.EXPIRED if code == "expired" else CommandState.FAILED
        _finish(command, state, error_code=code, error=message, answer=_answer(ack))
        _read_back_failed(command)
        return command
    reported = _reported(ack)
    expected = _expected(command.action, command.params)
    mismatch = expected is not None and reported is not None and reported != expected
    extra: dict[str, Any] = {}
    if command.action == CommandAction.SET_POWER_LIMIT:
        extra["power_limit_kw"] = Decimal(command.params["power_limit_kw"])
    _note_supply(command, reported, **extra)
    _finish(
        command,
        CommandState.ACKNOWLEDGED,
        answer=_answer(ack),
        mismatch=mismatch,
        error_code="state_mismatch" if mismatch else "",
        error=_("The meter reports %(state)s.") % {"state": reported_label(command.meter, reported)}
        if mismatch
        else "",
    )
    if command.read_back_for_id is not None and reported is not None:
        _settle_by_read_back(command, reported)
    return command


def _settle_by_read_back(read: Command, reported: str) -> None:
    """R6: the relay state read back settles a command left UNKNOWN."""
    parent = (
        Command.objects.select_for_update(of=("self",))
        .select_related("meter")
        .get(pk=read.read_back_for_id)
    )
    if parent.state != CommandState.UNKNOWN:
        return
    expected = _expected(parent.action, parent.params)
    answer = {"read_back": read.command_id, "state": reported}
    if expected is None or reported == expected:
        _finish(parent, CommandState.ACKNOWLEDGED, answer=answer, error_code="", error="")
    else:
        message = _("Read back: the meter reports %(state)s.") % {
            "state": reported_label(read.meter, reported)
        }
        _finish(
            parent, CommandState.FAILED, answer=answer, error_code="state_differs", error=message
        )


def _read_back_failed(command: Command) -> None:
    """A failed read-back leaves its command UNKNOWN; the next one is sent after a while."""
    if command.read_back_for_id is not None:
        logger.info("read-back %s failed; command stays unknown", command.command_id)


# --- retries, expiry, read-back (called from tasks.run_due) ------------------------------------


def _load(pk: int) -> Command:
    return (
        Command.objects.select_for_update(of=("self",))
        .select_related("meter__gateway", "meter__organisation")
        .get(pk=pk)
    )


@transaction.atomic
def dispatch_queued(pk: int, now: datetime) -> str:
    """A QUEUED command whose time has come: sent if its meter is reachable, else expired once
    `expires_at` has passed. Returns what happened."""
    command = _load(pk)
    if command.state != CommandState.QUEUED:
        return ""
    if command.expires_at is not None and command.expires_at <= now:
        message = _("The meter stayed offline until the command expired.")
        if command.error_code != "meter_offline":
            message = _("The command could not be sent before it expired.")
        _finish(command, CommandState.EXPIRED, error_code="expired", error=message)
        return "expired"
    settings = ControlSettings.for_organisation(command.organisation_id)
    timeout = timedelta(seconds=settings.command_timeout_seconds)
    if _offline(command.meter):
        command.next_attempt_at = now + timeout
        command.save(update_fields=["next_attempt_at"])
        return ""
    target = _target(command.meter)
    if target is None:
        _finish(
            command,
            CommandState.FAILED,
            error_code="no_gateway",
            error=_("This meter is not behind a gateway."),
        )
        return "failed"
    transaction.on_commit(_Dispatch(command.pk, target, _wire_command(command, settings), timeout))
    return "dispatched"


@transaction.atomic
def retry_sent(pk: int, now: datetime) -> str:
    """A SENT command with no answer in time: sent again with the same id (exponential
    back-off) or, after the last attempt, UNKNOWN with a read-back (relay actions) or FAILED."""
    command = _load(pk)
    if command.state != CommandState.SENT:
        return ""
    settings = ControlSettings.for_organisation(command.organisation_id)
    timeout = timedelta(seconds=settings.command_timeout_seconds)
    expired = command.expires_at is not None and command.expires_at <= now
    target = _target(command.meter)
    if command.attempts < settings.command_max_attempts and not expired and target is not None:
        command.attempts += 1
        command.next_attempt_at = now + timeout * 2 ** (command.attempts - 1)
        command.save(update_fields=["attempts", "next_attempt_at"])
        wire_command = _wire_command(command, settings)
        transaction.on_commit(lambda: _deliver(command.pk, target, wire_command))
        return "retried"
    message = _("No answer after %(attempts)d attempts.") % {"attempts": command.attempts}
    if command.action in RELAY_ACTIONS:
        command.next_attempt_at = now
        _finish(command, CommandState.UNKNOWN, error_code="no_answer", error=message)
        read_back(command)
        return "unknown"
    _finish(command, CommandState.FAILED, error_code="no_answer", error=message)
    return "failed"


def read_back(command: Command) -> Command:
    """R6: ask the meter for its relay state; the answer settles `command`."""
    registers = ["water_m3"] if command.meter.kind != MeterKind.ELECTRICITY else ["energy_kwh"]
    settings = ControlSettings.for_organisation(command.organisation_id)
    wait = min(
        timedelta(seconds=settings.command_timeout_seconds) * 2**settings.command_max_attempts,
        READ_BACK_MAX_INTERVAL,
    )
    Command.objects.filter(pk=command.pk).update(next_attempt_at=timezone.now() + wait)
    return send(
        None,
        command.meter,
        CommandAction.READ,
        params={"registers": registers},
        reason=_("Read the relay state back"),
        cause={"rule": "read_back", "command": command.command_id},
        read_back_for=command,
    )


@transaction.atomic
def read_back_unknown(pk: int, now: datetime) -> str:
    """An UNKNOWN command whose last read-back brought nothing: read it back again."""
    command = _load(pk)
    if command.state != CommandState.UNKNOWN:
        return ""
    if command.read_backs.filter(state__in=(CommandState.QUEUED, CommandState.SENT)).exists():
        return ""
    read_back(command)
    return "read_back"


# --- cancel and resend ---------------------------------------------------------------------------


@transaction.atomic
def cancel(actor, command: Command) -> Command:
    command = _load(command.pk)
    if command.state in FINAL_STATES:
        raise ServiceError(
            "finished",
            _("This command is already %(state)s.") % {"state": command.get_state_display()},
            status=409,
        )
    before = command.state
    command.state = CommandState.CANCELLED
    command.finished_at = timezone.now()
    command.save(update_fields=["state", "finished_at"])
    _audit(actor, "command.cancelled", command, before)
    _settled(command)
    return command


@transaction.atomic
def resend(actor, command: Command, *, reason: str = "") -> Command:
    """A failed, expired or unknown command sent again as a new command, linked to it."""
    command = _load(command.pk)
    if command.state not in RESENDABLE_STATES:
        raise ServiceError(
            "not_resendable",
            _("Only failed, expired or unknown commands can be sent again."),
            status=409,
        )
    return send(
        actor,
        command.meter,
        command.action,
        params=command.params,
        reason=reason or command.reason,
        cause={**command.cause, "resend_of": command.command_id},
        resend_of=command,
    )


# --- two-step manual cut-off (R4) ----------------------------------------------------------------


def _cut_action(meter: Meter) -> CommandAction:
    return CommandAction.TRIP if meter.kind == MeterKind.ELECTRICITY else CommandAction.VALVE_CLOSE


def _refuse_protected(meter: Meter) -> None:
    if is_protected(meter):
        raise ServiceError(
            "protected",
            _("The customer of meter %(meter)s is protected (保电): no cut-off.")
            % {"meter": meter.address},
            status=409,
        )


def arm_cutoff(actor, meter: Meter, *, now: datetime | None = None) -> str:
    """Step one: a signed token for (operator, organisation, meter), valid 5 minutes."""
    if getattr(actor, "pk", None) is None:
        raise ServiceError("login_required", _("A manual cut-off needs an operator."), status=403)
    _refuse_protected(meter)
    now = now or timezone.now()
    nonce = secrets.token_urlsafe(12)
    expires = int(now.timestamp()) + CUTOFF_TOKEN_MAX_AGE_S
    token = signing.dumps(
        {
            "user": actor.pk,
            "org": meter.organisation_id,
            "meter": meter.pk,
            "nonce": nonce,
            "exp": expires,
        },
        salt=CUTOFF_TOKEN_SALT,
    )
    record(actor, "cutoff.arm", meter, after={"nonce": nonce, "expires": expires})
    return token


@transaction.atomic
def confirm_cutoff(actor, token: str, *, reason: str, now: datetime | None = None) -> Command:
    """Step two: send the armed cut-off, once. A replayed, expired or altered token, another
    operator's, or one for an organisation the operator may not control, fails."""
    from submeter.tenancy.scoping import scope_for_user

    if not reason.strip():
        raise ServiceError(
            "invalid", _("Give the reason."), {"reason": [_("This field is required.")]}
        )
    try:
        data = signing.loads(token, salt=CUTOFF_TOKEN_SALT)
    except signing.BadSignature:
        raise ServiceError(
            "token_invalid", _("This cut-off token is not valid."), status=400
        ) from None
    now = now or timezone.now()
    if now.timestamp() > data["exp"]:
        raise ServiceError(
            "token_expired", _("This cut-off was armed too long ago; arm it again."), status=410
        )
    if getattr(actor, "pk", None) != data["user"]:
        raise ServiceError(
            "token_other_user", _("Another operator armed this cut-off."), status=403
        )
    if not scope_for_user(actor).can(CONTROL_OPERATE, data["org"]):
        raise ServiceError("not_found", _("Not found."), status=404)
    meter = (
        Meter.objects.select_related("gateway", "organisation")
        .filter(pk=data["meter"], organisation_id=data["org"])
        .first()
    )
    if meter is None:
        raise ServiceError("not_found", _("Not found."), status=404)
    decision_key = f"cutoff:{data['nonce']}"
    if Command.objects.filter(
        organisation_id=meter.organisation_id, decision_key=decision_key
    ).exists():
        raise ServiceError("token_used", _("This cut-off was already confirmed."), status=409)
    _refuse_protected(meter)
    command = send(
        actor,
        meter,
        _cut_action(meter),
        reason=reason,
        cause={"rule": "manual_cutoff", "armed": data["nonce"]},
        decision_key=decision_key,
    )
    return command


# --- power limit -----------------------------------------------------------------------------------


def set_power_limit(actor, meter: Meter, kw: Decimal | str) -> Command:
    """Send a power limit (kW, 0 = none); it is recorded on the meter's supply when acknowledged."""
    try:
        value = Decimal(str(kw))
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite() or not Decimal(0) <= value <= MAX_POWER_LIMIT_KW:
        raise ServiceError(
            "invalid",
            _("The power limit must be between 0 and %(max)s kW.") % {"max": MAX_POWER_LIMIT_KW},
            {"kw": [_("Out of range.")]},
        )
    value = value.quantize(Decimal("0.001"))
    return send(
        actor,
        meter,
        CommandAction.SET_POWER_LIMIT,
        params={"power_limit_kw": str(value)},
        reason=_("Power limit %(kw)s kW") % {"kw": value},
    )


# --- batch tasks and timed controls ------------------------------------------------------------------

METER_FILTER_KEYS = frozenset({"building", "floor", "kind", "ids", "gateway"})


def filter_meters(organisation_id: int, meter_filter: dict[str, Any]):
    """Active meters of the organisation matching `meter_filter` (building, floor, gateway ids,
    kind, ids)."""
    unknown = set(meter_filter) - METER_FILTER_KEYS
    if unknown:
        raise ServiceError(
            "invalid",
            _("Unknown meter filter: %(keys)s") % {"keys": ", ".join(sorted(unknown))},
            {"meter_filter": [_("Use building, floor, gateway, kind or ids.")]},
        )
    meters = Meter.objects.filter(organisation_id=organisation_id, state=MeterState.ACTIVE)
    lookups = {"building": "room__floor__building_id", "floor": "room__floor_id"}
    lookups |= {"gateway": "gateway_id", "kind": "kind"}
    for key, lookup in lookups.items():
        if meter_filter.get(key) not in (None, ""):
            meters = meters.filter(**{lookup: meter_filter[key]})
    if meter_filter.get("ids"):
        meters = meters.filter(pk__in=[int(pk) for pk in meter_filter["ids"]])
    return meters.select_related("gateway", "organisation").order_by("pk")


@transaction.atomic
def create_batch(
    actor,
    organisation,
    action: str,
    meter_filter: dict[str, Any],
    *,
    run_at: datetime | None = None,
    params: dict[str, Any] | None = None,
    reason: str,
    confirm: bool = False,
) -> CommandBatch:
    """One action over the filtered meters, now (`run_at` None or past) or at `run_at`. A batch
    cut-off needs `confirm=True`; protected meters are always left out of it."""
    action = CommandAction(action)
    if action in CUT_ACTIONS and not confirm:
        raise ServiceError(
            "confirmation_required",
            _("A batch cut-off must be confirmed."),
            {"confirm": [_("Confirm the cut-off.")]},
        )
    if not reason.strip():
        raise ServiceError(
            "invalid", _("Give the reason."), {"reason": [_("This field is required.")]}
        )
    organisation_id = getattr(organisation, "pk", organisation)
    meter_count = filter_meters(organisation_id, meter_filter).count()
    if meter_count == 0:
        raise ServiceError(
            "no_meters", _("No meter matches this filter."), {"meter_filter": [_("No meter.")]}
        )
    batch = CommandBatch.objects.create(
        organisation_id=organisation_id,
        action=action,
        params=params or {},
        meter_filter=meter_filter,
        run_at=run_at or timezone.now(),
        reason=reason[:200],
        created_by=actor if getattr(actor, "pk", None) else None,
        confirmed=confirm,
        meter_count=meter_count,
    )
    record(actor, "batch.create", batch, after={"action": action, "filter": meter_filter})
    if batch.run_at <= timezone.now():
        batch = run_batch(batch)
    return batch


def _kept_off(meters: list[Meter]) -> set[int]:
    """Meters a batch restore leaves alone: the customer is in arrears, or an operator's
    confirmed manual cut-off holds the meter off (a cut by a batch or a timed control does not)."""
    customers = {meter.customer_id for meter in meters if meter.customer_id}
    in_arrears = set(
        PrepaidPolicy.objects.filter(customer_id__in=customers, in_arrears=True).values_list(
            "customer_id", flat=True
        )
    )
    kept = {meter.pk for meter in meters if meter.customer_id in in_arrears}
    held = SupplyState.objects.filter(
        meter_id__in=[meter.pk for meter in meters], manual_hold=True
    ).values_list("meter_id", flat=True)
    for meter_id in held:
        last_cut = (
            Command.objects.filter(
                meter_id=meter_id, action__in=CUT_ACTIONS, state=CommandState.ACKNOWLEDGED
            )
            .order_by("-finished_at", "-pk")
            .first()
        )
        if last_cut is None or last_cut.batch_id is None:
            kept.add(meter_id)
    return kept


def _protected_meters(meters: list[Meter]) -> set[int]:
    customers = {meter.customer_id for meter in meters if meter.customer_id}
    protected = set(
        PrepaidPolicy.objects.filter(customer_id__in=customers, protected=True).values_list(
            "customer_id", flat=True
        )
    )
    return {meter.pk for meter in meters if meter.customer_id in protected}


@transaction.atomic
def run_batch(batch: CommandBatch, *, key: str = "") -> CommandBatch:
    """Send the batch's command to each of its meters (each dispatched at commit)."""
    batch = CommandBatch.objects.select_for_update().get(pk=batch.pk)
    if batch.started_at is not None:
        return batch
    if batch.action in CUT_ACTIONS and not batch.confirmed:
        raise ServiceError("confirmation_required", _("A batch cut-off must be confirmed."))
    meters = list(filter_meters(batch.organisation_id, batch.meter_filter))
    skip: set[int] = set()
    if batch.action in CUT_ACTIONS:
        skip = _protected_meters(meters)
    elif batch.action in RESTORE_ACTIONS:
        skip = _kept_off(meters)
    cause = {"rule": "schedule" if batch.schedule_id else "batch", "batch": batch.pk}
    sent = 0
    for meter in meters:
        if meter.pk in skip:
            continue
        send(
            batch.created_by,
            meter,
            batch.action,
            params=batch.params,
            reason=batch.reason,
            cause=cause,
            decision_key=f"batch:{batch.pk}:{meter.pk}{key}",
            batch=batch,
        )
        sent += 1
    batch.started_at = timezone.now()
    batch.meter_count = sent
    batch.skipped_count = len(skip)
    batch.save(update_fields=["started_at", "meter_count", "skipped_count"])
    record(
        batch.created_by,
        "batch.run",
        batch,
        after={"meters": sent, "skipped": len(skip)},
    )
    return batch


SCHEDULE_GRACE = timedelta(hours=1)
"""A timed control missed by more than this (worker stopped) waits for its next day."""


@transaction.atomic
def run_schedule_if_due(schedule_pk: int, now: datetime) -> CommandBatch | None:
    """Run a timed control once on each of its days, in the organisation's time zone."""
    schedule = (
        ControlSchedule.objects.select_for_update()
        .select_related("organisation")
        .get(pk=schedule_pk)
    )
    if not schedule.enabled:
        return None
    local = now.astimezone(ZoneInfo(schedule.organisation.time_zone))
    if schedule.weekdays and local.isoweekday() not in schedule.weekdays:
        return None
    if schedule.last_run_on == local.date():
        return None
    due = datetime.combine(local.date(), schedule.time_of_day, tzinfo=local.tzinfo)
    if not due <= local < due + SCHEDULE_GRACE:
        return None
    schedule.last_run_on = local.date()
    schedule.save(update_fields=["last_run_on"])
    batch = CommandBatch.objects.create(
        organisation_id=schedule.organisation_id,
        action=schedule.action,
        params=schedule.params,
        meter_filter=schedule.meter_filter,
        run_at=now,
        reason=_("Timed control: %(name)s") % {"name": schedule.name},
        confirmed=True,
        schedule=schedule,
    )
    record(None, "schedule.run", schedule, after={"date": local.date().isoformat()})
    return run_batch(batch)
