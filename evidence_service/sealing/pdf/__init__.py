"""A small fixed-layout PDF/A-3b writer with a TrueType subsetter, for the evidence certificate
(see ``writer`` for why it is ours and not a general library)."""
