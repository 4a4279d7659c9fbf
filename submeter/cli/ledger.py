"""`submeter audit`: the ledger audit of RELIABILITY.md; exits non-zero on any violation."""

from __future__ import annotations

import argparse
import json


def audit(args: argparse.Namespace) -> int:
    from submeter.cli.server import setup_django

    setup_django()
    from submeter.ledger.integrity import audit_ledger
    from submeter.tenancy.models import Organisation

    organisation_ids = None
    if args.org:
        organisation_ids = list(
            Organisation.objects.filter(code__in=args.org).values_list("pk", flat=True)
        )
        if len(organisation_ids) != len(set(args.org)):
            print("error: unknown organisation code")
            return 2
    report = audit_ledger(organisation_ids)
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        for check in report.checks:
            print(f"{'ok  ' if check.ok else 'FAIL'}  {check.name}: {check.description}")
            for violation in check.violations[:20]:
                print(f"        {violation}")
        print("Ledger audit passed." if report.ok else "Ledger audit FAILED.")
    return 0 if report.ok else 1


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "audit",
        help="check the ledger's invariants (exit 1 on any violation)",
        description="Every transaction sums to zero; cached balances equal their entries; no wallet "
        "below its floor without cause; each idempotency key posted once; reversals once; "
        "each reading interval charged once; every relay command with a cause; append-only "
        "guard present.",
    )
    parser.add_argument(
        "--org", action="append", metavar="CODE", help="only this organisation (repeatable)"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(handler=audit)
