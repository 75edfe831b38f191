"""Manager service: decides whether each booking may go on to billing."""

__version__ = "0.1.0"
