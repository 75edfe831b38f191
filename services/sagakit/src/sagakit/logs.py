"""Log configuration shared by the services."""

from __future__ import annotations

import logging


def configure_logging(service: str, level: str = "INFO") -> None:
    """Plain text lines that name the service; uvicorn's loggers propagate here."""
    logging.basicConfig(
        level=level.upper(),
        format=f"%(asctime)s %(levelname)-7s {service} %(name)s: %(message)s",
        force=True,
    )
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
