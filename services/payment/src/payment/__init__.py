"""Payment service: customers' credit, and one charge per booking's bill."""

__version__ = "0.1.0"
