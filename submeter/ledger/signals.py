"""Signals the ledger sends, so other areas react to money without the ledger knowing them."""

from django.dispatch import Signal

balance_changed = Signal()
"""Sent after the database commits a posting to a tenant's wallet, with `customer_id` and
`transaction_id`. The prepaid policy listens: a top-up restores supply at once."""
