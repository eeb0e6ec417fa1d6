"""evidence-service: sealed web evidence and e-signatures for market-regulation enforcement.

This package composes the others: ``capture`` (Chromium → WARC), ``storage`` (immutable objects,
metadata, jobs), ``signing`` and ``certs`` (PKI, time-stamps, package signatures). It owns the
settings, the web app, the REST API, the worker and the ``evidence`` command.
"""

__version__ = "0.1.0"
