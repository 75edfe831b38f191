"""Billing service: one bill per approved booking, paid or failed by the payment outcome."""

__version__ = "0.1.0"
