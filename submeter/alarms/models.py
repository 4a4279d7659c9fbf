"""Alarms and notifications: one channel interface, providers, delivery records."""
