"""A stateful Hypothesis test of the prepaid policy: any sequence of consumption, top-ups,
protect toggles, clock moves, quiet-hour changes and meter acknowledgements keeps the safety
rules: never a cut-off of a protected customer, never one sent in quiet hours, never one while
the balance is at or above minus the overdraft limit, always a restore after a sufficient
top-up."""

import itertools
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from submeter.control import policy
from submeter.control.models import (
    Command,
    CommandAction,
    CommandState,
    ControlSettings,
    SupplyPhase,
    SupplyState,
)
from submeter.control.services import record_ack
from submeter.engine.supply import QuietRules
from submeter.ledger import services as ledger
from submeter.ledger.integrity import audit_ledger
from submeter.ledger.models import Account
from submeter.protocols.mqtt_payloads import AckResult, CommandAck, RelayState
from tests.factories import make_customer, make_gateway, make_meter, make_organisation

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
MARGIN = Decimal("1.00")
amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("80.00"), places=2)
_keys = itertools.count()
seen = {"trips": 0, "restores": 0}


class PrepaidPolicyMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.organisation = make_organisation()
        self.control = ControlSettings.objects.create(
            organisation=self.organisation,
            cutoff_notice_minutes=0,
            reconnect_margin=MARGIN,
            relay_actions_per_meter_per_hour=10_000,
        )
        gateway = make_gateway(self.organisation, serial="GW-1", online_state="online")
        self.customer = make_customer(self.organisation, notify_sms=False)
        self.meter = make_meter(
            self.organisation, customer=self.customer, gateway=gateway, online_state="online"
        )
        ledger.topup(None, self.customer, "20.00", "cash", fee_percent=Decimal("0"))
        self.now = START
        self.protected = False
        self.quiet = QuietRules()

    # -- helpers ---------------------------------------------------------------------------------
    def wallet(self) -> Account:
        return Account.objects.get(customer=self.customer, kind="wallet")

    def supply(self) -> SupplyState | None:
        return SupplyState.objects.filter(meter=self.meter).first()

    def evaluate(self) -> None:
        trips_before = set(self.commands(CommandAction.TRIP))
        policy.evaluate(self.customer.pk, now=self.now)
        new_trips = set(self.commands(CommandAction.TRIP)) - trips_before
        seen["trips"] += len(new_trips)
        if new_trips:
            wallet = self.wallet()
            assert not self.protected, "cut-off sent to a protected customer"
            assert not self.quiet.is_quiet(self.now.astimezone(SHANGHAI)), "cut-off in quiet hours"
            assert wallet.balance < -wallet.overdraft_limit, "cut-off above the floor"

    def commands(self, action: str) -> list[int]:
        return list(
            Command.objects.filter(meter=self.meter, action=action).values_list("pk", flat=True)
        )

    # -- rules ------------------------------------------------------------------------------------
    @rule(amount=amounts)
    def consume(self, amount):
        ledger.charge(
            None, self.customer, amount, "electricity", idempotency_key=f"use-{next(_keys)}"
        )
        self.evaluate()

    @rule(amount=amounts)
    def top_up(self, amount):
        supply = self.supply()
        was_cut = supply is not None and supply.phase in (
            SupplyPhase.DISCONNECTED,
            SupplyPhase.DISCONNECT_SENT,
        )
        closes_before = len(self.commands(CommandAction.CLOSE))
        ledger.topup(None, self.customer, amount, "wechat", fee_percent=Decimal("0"))
        self.evaluate()  # what the balance_changed signal does when the top-up commits
        wallet = self.wallet()
        if was_cut and wallet.balance >= -wallet.overdraft_limit + MARGIN:
            assert len(self.commands(CommandAction.CLOSE)) > closes_before, "no restore"
            seen["restores"] += 1
            assert self.supply().phase == SupplyPhase.RECONNECT_SENT

    @rule(amount=amounts)
    def run_out_then_pay(self, amount):
        """Spend past the floor, let the meter answer, then pay enough to come back."""
        wallet = self.wallet()
        to_spend = wallet.balance + wallet.overdraft_limit + Decimal("0.01")
        if to_spend > 0:
            self.consume(to_spend)
        self.meter_answers()
        self.top_up(-self.wallet().balance + wallet.overdraft_limit + MARGIN + amount)

    @rule(limit=st.sampled_from(["0.00", "10.00", "50.00"]))
    def change_overdraft_limit(self, limit):
        ledger.set_overdraft_limit(None, self.customer, limit)
        self.evaluate()

    @rule()
    def toggle_protection(self):
        self.protected = not self.protected
        policy.set_protected(None, self.customer, self.protected, reason="test")
        self.evaluate()

    @rule(minutes=st.integers(min_value=1, max_value=24 * 60))
    def advance_clock(self, minutes):
        self.now += timedelta(minutes=minutes)
        policy.run_due(now=self.now)
        self.evaluate()

    @rule(
        window=st.sampled_from(
            [None, (time(22, 0), time(7, 0)), (time(9, 0), time(18, 0)), (time(0, 0), time(23, 59))]
        ),
        weekends=st.booleans(),
    )
    def set_quiet_hours(self, window, weekends):
        start, end = window or (None, None)
        ControlSettings.objects.filter(pk=self.control.pk).update(
            quiet_start=start, quiet_end=end, quiet_weekends=weekends
        )
        self.quiet = QuietRules(start=start, end=end, weekends=weekends)
        self.evaluate()

    @rule()
    def meter_answers(self):
        """The meter runs every open relay command and acknowledges it."""
        for command in Command.objects.filter(
            meter=self.meter,
            action__in=[CommandAction.TRIP, CommandAction.CLOSE],
            state__in=[CommandState.QUEUED, CommandState.SENT],
        ).order_by("pk"):
            relay = RelayState.OPEN if command.action == CommandAction.TRIP else RelayState.CLOSED
            record_ack(
                self.organisation.pk,
                CommandAck(
                    gateway_id="GW-1",
                    command_id=command.command_id,
                    meter_address=self.meter.address,
                    timestamp=self.now,
                    result=AckResult.OK,
                    relay_state=relay,
                ),
            )
        self.evaluate()

    @invariant()
    def protected_supply_is_wanted_on(self):
        supply = self.supply()
        if self.protected and supply is not None:
            assert supply.phase != SupplyPhase.PENDING_DISCONNECT


def test_prepaid_policy_keeps_the_relay_rules():
    run_state_machine_as_test(
        PrepaidPolicyMachine,
        settings=settings(
            max_examples=30,
            stateful_step_count=25,
            deadline=None,
            derandomize=True,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
    assert audit_ledger().ok
    # The sequences did reach the interesting states, not only the easy ones.
    assert seen["trips"] > 0
    assert seen["restores"] > 0
