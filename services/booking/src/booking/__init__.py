"""Booking service: the saga starts and ends here."""

__version__ = "0.1.0"
