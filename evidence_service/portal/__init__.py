"""The merchant portal (``/portal``): account setup with a one-time code, consent to
electronic service, served documents, signatures and statements. See ``workflow.service``."""
