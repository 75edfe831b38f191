"""sagactl: run the saga services locally, show the pattern working, inspect and repair."""
