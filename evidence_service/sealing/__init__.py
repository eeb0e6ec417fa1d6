"""The sealing room: from a captured page to sealed, logged, certified evidence.

The capture pipeline and its worker, the evidence certificate (and the small PDF writer that
draws it), the transparency-log service, the proofs sidecars and the archive-time-stamp
renewal. Nothing here knows about HTTP or the command line."""
