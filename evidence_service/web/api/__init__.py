"""The REST API (OpenAPI at ``/docs``): captures and documents."""
