"""The merchant register (issue 11, "the party in seconds"): who operates a shop, found in
seconds from a pasted URL, shop id, credit code or name; the party's earlier cases; and the
operator a sealed shop page itself shows.

Modules: ``rows`` (reading CSV/XLSX, checking each row), ``importer`` (writing with the change
log), ``urls`` (shop-URL keys, rules in ``urls.toml``), ``names`` (name keys and bigrams),
``lookup``, ``record`` (earlier cases, first violation), ``page_text`` and ``operator``
(operator information from a page's text, rules in ``operator.toml``)."""

from __future__ import annotations

from workflow.register.errors import RegisterError, RegisterFileError, RulesError
from workflow.register.importer import ImportReport, import_file, import_rows
from workflow.register.lookup import LookupResult, Match, lookup
from workflow.register.operator import OperatorInfo, extract_operator
from workflow.register.page_text import html_lines
from workflow.register.record import EarlierCase, PartyRecord, party_record
from workflow.register.rows import Problem, RowIn, read_rows
from workflow.register.urls import ShopKey, shop_key

__all__ = [
    "EarlierCase",
    "ImportReport",
    "LookupResult",
    "Match",
    "OperatorInfo",
    "PartyRecord",
    "Problem",
    "RegisterError",
    "RegisterFileError",
    "RowIn",
    "RulesError",
    "ShopKey",
    "extract_operator",
    "html_lines",
    "import_file",
    "import_rows",
    "lookup",
    "party_record",
    "read_rows",
    "shop_key",
]
