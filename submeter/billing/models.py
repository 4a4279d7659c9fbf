"""Billing: real-time deduction from register differences, settlement, meter replacement."""
