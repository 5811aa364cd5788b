"""Prometheus metrics at /metrics: what the service counts as it runs (traffic), what it reads at scrape time
(database), and the route that serves them (endpoint)."""
