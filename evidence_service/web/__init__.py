"""The web room: the FastAPI app, the REST API, the officers' console, the merchant portal,
and the public endpoints verifiers use (TSA, PKI, transparency log, verifier)."""
