"""The ``evidence`` command's entry point (also ``python -m evidence_service``).

Third-party libraries may warn about their *own* dependencies at import time (pyHanko 0.38 imports
cryptography's DSA classes, which cryptography 51 deprecates). Such a warning tells a court clerk
reading the verifier's output nothing they can act on, so the known ones are silenced here, before
the command's modules (and with them pyHanko) are imported: that ordering is why the import of
the command group sits inside ``main``. Our own warnings, and unknown ones, still show.
"""

from __future__ import annotations

import warnings

#: (message regex, module regex) of warnings a user of the command must never see, each with why.
KNOWN_LIBRARY_WARNINGS: tuple[tuple[str, str], ...] = (
    # pyhanko/sign/signers/pdf_cms.py imports DSAPrivateKey; DSA keys are never used by us.
    (r"DSA is deprecated", r"pyhanko(\.|$)"),
)


def quiet_known_warnings() -> None:
    for message, module in KNOWN_LIBRARY_WARNINGS:
        warnings.filterwarnings("ignore", message=message, module=module)


def main() -> None:
    quiet_known_warnings()
    from evidence_service.cli import main as command

    command()


if __name__ == "__main__":
    main()
