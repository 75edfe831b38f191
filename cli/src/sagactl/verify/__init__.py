"""`sagactl verify-observability`: does a demo saga show in Jaeger, Prometheus and Grafana?

One module per backend (jaeger, prometheus, grafana), each a thin async HTTP probe and
pure functions that judge the documented response; `outcome` retries them; `command`
is the CLI.
"""
