"""sagabench: drive the saga like real customers; report throughput, latency and cost."""
