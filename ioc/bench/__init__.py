"""Benchmarks: a synthetic national store and the KPI timing run (``python -m ioc bench``)."""
