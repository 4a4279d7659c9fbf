"""`submeter billing deduct` (bill meters' new readings) and `submeter billing settle`."""

from __future__ import annotations

import argparse
import re


def deduct(args: argparse.Namespace) -> int:
    from submeter.cli.server import setup_django

    setup_django()
    from submeter.billing.services import deduct as deduct_meter
    from submeter.metering.models import Meter

    meters = Meter.objects.exclude(customer=None).exclude(tariff=None)
    if args.meter:
        meters = Meter.objects.filter(pk__in=args.meter)
    ids = list(meters.order_by("pk").values_list("pk", flat=True))
    intervals = posted = 0
    for number, meter_id in enumerate(ids, 1):
        outcome = deduct_meter(meter_id)
        intervals += outcome.intervals
        posted += outcome.posted
        if number % args.progress_every == 0 or number == len(ids):
            print(
                f"{number}/{len(ids)} meters  {intervals} intervals  ¥{posted:.2f} posted",
                flush=True,
            )
    if not ids:
        print("No meter to bill.")
    return 0


def settle(args: argparse.Namespace) -> int:
    match = re.fullmatch(r"(\d{4})-(\d{2})", args.month)
    if match is None:
        print("error: --month must be YYYY-MM")
        return 2
    year, month = int(match[1]), int(match[2])
    from submeter.cli.server import setup_django

    setup_django()
    from submeter.billing.services import settle_month
    from submeter.customers.models import Customer, Settlement
    from submeter.errors import ServiceError

    customers = Customer.objects.filter(settlement=Settlement.MONTH_END)
    if args.customer:
        customers = Customer.objects.filter(pk__in=args.customer)
    total = len(customers)
    for number, customer in enumerate(customers.order_by("pk"), 1):
        try:
            posted = settle_month(None, customer, year, month)
        except ServiceError as exc:
            print(f"error: {exc.message}")
            return 1
        amount = sum(t.amount for t in posted)
        print(
            f"{number}/{total} {customer.name}: ¥{amount:.2f} in {len(posted)} charges", flush=True
        )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "billing", help="real-time deduction and month-end settlement (docs/billing.md)"
    )
    commands = parser.add_subparsers(dest="billing_command", metavar="COMMAND", required=True)
    run = commands.add_parser(
        "deduct",
        help="bill the readings after each meter's billing cursor",
        description="Rate and post every meter's readings not yet billed (idempotent).",
    )
    run.add_argument(
        "--meter", type=int, action="append", metavar="ID", help="only this meter (repeatable)"
    )
    run.add_argument("--progress-every", type=int, default=100, metavar="N", help="default 100")
    run.set_defaults(handler=deduct)
    month = commands.add_parser(
        "settle",
        help="post a finished month's charges of month-end customers",
        description="One ledger charge per customer and utility for the month (idempotent).",
    )
    month.add_argument("--month", required=True, metavar="YYYY-MM")
    month.add_argument(
        "--customer", type=int, action="append", metavar="ID", help="only this customer"
    )
    month.set_defaults(handler=settle)
