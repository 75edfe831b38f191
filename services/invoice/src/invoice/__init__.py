"""Invoice service: the last step of the saga, one invoice per paid booking."""

__version__ = "0.1.0"
