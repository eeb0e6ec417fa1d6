"""Fixtures of the merchant register tests: a migrated database and register files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from storage.db import make_engine, make_session_factory, migrate

_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
HEADER = "name,credit_code,legal_representative,address,shop_url,platform,shop_id,licences"


def code(n: int, prefix: str = "91330100") -> str:
    """A valid unified social credit code (GB 32100-2015 check character) numbered ``n``."""
    base = f"{prefix}{n:09d}"
    total = sum(_ALPHABET.index(c) * w for c, w in zip(base, _WEIGHTS, strict=True))
    return base + _ALPHABET[(31 - total % 31) % 31]


def wrong_check(valid: str) -> str:
    """``valid`` with its check character changed (a typo)."""
    return valid[:17] + ("0" if valid[17] != "0" else "1")


def sessions_for(url: str) -> sessionmaker[Session]:
    migrate(url)
    return make_session_factory(make_engine(url))


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    factory = sessions_for(f"sqlite:///{tmp_path / 'register.db'}")
    yield factory
    engine = factory.kw["bind"]
    engine.dispose()


def write_csv(path: Path, *rows: str, header: str = HEADER, encoding: str = "utf-8") -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding=encoding)
    return path
