"""Submeter: metering, billing and control of resold electricity and water."""

__version__ = "0.1.0"
