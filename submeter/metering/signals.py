"""Signals metering sends, so billing reacts to readings without metering knowing it."""

from django.dispatch import Signal

readings_stored = Signal()
"""Sent after the database commits new readings, with `meter_ids`: the meters whose cumulative
registers have new values. Billing listens and deducts what they advanced."""
