"""The legal room's routes (issue 11): the unit's legal-basis and discretion catalogue for
reviewers (``/legal``, its entries edited as new versions), the officer's choice of legal basis
on a case (the case page's ``legal`` panel posts to ``/cases/{id}/legal-basis``), and the
same over the REST API: ``GET /api/cases/{id}/legal-suggestions``,
``POST /api/cases/{id}/legal-basis``, ``GET /api/legal/catalogue``.

Who may do what is asked of the one access table (``workflow/cases/access.toml``): reading
the catalogue is ``legal_catalogue``, editing it ``edit_legal_catalogue`` (the reviewer role:
the accounts named in the ``legal_reviewers`` setting), choosing on a case is ``act`` by an
officer staffed on it. The ranking and the choice's rules are ``workflow.legal``'s; this
module only turns forms and JSON into their inputs and their answers into pages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi import Path as PathParam
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field
from starlette.datastructures import FormData

from evidence_service.sealing.page_text import case_page_text
from evidence_service.web.api.cases import (
    CaseApiError,
    actor_of,
    held_roles,
    visible_unit,
)
from evidence_service.web.auth import actor_name, check_csrf, require_api_user, services_of
from evidence_service.web.case_views import case_ctx
from evidence_service.web.i18n import translate
from evidence_service.web.pages import render, require_officer
from storage.models import User
from workflow.cases import access, legal_basis
from workflow.cases.service import CaseContext, CaseEvent, CaseNotFound, EventView, PayloadError
from workflow.legal import versions
from workflow.legal.catalogue import BANDS, Catalogue
from workflow.legal.choice import EVENT, ChoiceError, ChoiceIn, amount_fen_from_yuan
from workflow.legal.ranking import Observed, Reason, Suggestion, suggest

__all__ = [
    "catalogue_role",
    "choice_of",
    "observed_from",
    "page_observed",
    "reason_text",
    "router",
    "suggestion_out",
]

router = APIRouter()
ApiUser = Annotated[User, Depends(require_api_user)]
CaseId = Annotated[str, PathParam(min_length=1, max_length=64)]
MAX_FACTS = 100


# -- who may see and edit the catalogue ---------------------------------------------------------


def catalogue_role(request: Request, user: User) -> str:
    """The access table's role for the catalogue: ``reviewer`` for the unit's legal staff
    (the ``legal_reviewers`` setting), ``admin`` for an administrator, else ``officer``."""
    if user.role == "admin":
        return "admin"
    names = services_of(request).settings.legal_reviewers
    reviewers = {n.strip() for n in names.split(",") if n.strip()}
    return "reviewer" if user.username in reviewers else "officer"


def _may(request: Request, user: User, verb: str) -> bool:
    if user.unit_id is None:
        return False
    subject = access.Subject(actor_unit=str(user.unit_id), case_unit=str(user.unit_id))
    return bool(access.can(catalogue_role(request, user), verb, subject))


# -- the officer's inputs -----------------------------------------------------------------------


def observed_from(
    catalogue: Catalogue,
    facts: Sequence[str],
    amounts: Mapping[str, str],
    page_text: str,
) -> Observed:
    """The ranking's input from ticked fact tags and typed amounts (yuan); unknown tags are
    refused (:class:`ChoiceError`), as is an amount that is not a figure."""
    ticked = set()
    for tag in list(facts)[:MAX_FACTS]:
        fact = catalogue.facts.get(tag)
        if fact is None or fact.kind == "amount":
            raise ChoiceError("facts", f"{tag!r} is not a fact of the catalogue")
        ticked.add(tag)
    figures: dict[str, Decimal] = {}
    for tag, text in amounts.items():
        fact = catalogue.facts.get(tag)
        if fact is None or fact.kind != "amount":
            raise ChoiceError("amounts", f"{tag!r} is not an amount of the catalogue")
        if str(text).strip() == "":
            continue
        try:
            value = Decimal(str(text).strip().replace(",", ""))
        except InvalidOperation:
            raise ChoiceError(f"amounts.{tag}", "give a figure in yuan, e.g. 3200") from None
        if not value.is_finite() or value < 0:
            raise ChoiceError(f"amounts.{tag}", "give a figure in yuan, e.g. 3200")
        figures[tag] = value
    return Observed(frozenset(ticked), figures, page_text)


def _form_inputs(
    catalogue: Catalogue, params: Mapping[str, Any], getlist: Any
) -> tuple[list[str], dict[str, str]]:
    facts = [str(v) for v in getlist("fact")]
    amounts = {
        tag: str(params.get(f"amount_{tag}") or "")
        for tag, f in catalogue.facts.items()
        if f.kind == "amount" and params.get(f"amount_{tag}")
    }
    return facts, amounts


def choice_of(events: Sequence[EventView | CaseEvent]) -> Mapping[str, Any] | None:
    """The newest choice the case recorded (the event's details), or None."""
    found = None
    for e in events:
        if e.action == EVENT:
            found = e
    return None if found is None else {"seq": found.seq, **found.details}


def page_observed(
    request: Request, catalogue: Catalogue, case_id: str, events: Sequence[EventView]
) -> tuple[Observed, str | None]:
    """What the case page's panel ranks on: the facts in the query (the panel's own form),
    else those of the case's last choice; and the problem with the query's input, if any."""
    text = case_page_text(services_of(request), case_id)
    params = request.query_params
    if "legal" in params:
        facts, amounts = _form_inputs(catalogue, params, params.getlist)
    else:
        last = choice_of(events) or {}
        facts = [t for t in last.get("ticked", []) if t in catalogue.facts]
        amounts = {
            k: v for k, v in (last.get("amounts_yuan") or {}).items() if k in catalogue.facts
        }
    try:
        return observed_from(catalogue, facts, amounts, text), None
    except ChoiceError as exc:
        return Observed(page_text=text), exc.field


# -- answers ------------------------------------------------------------------------------------


def reason_text(catalogue: Catalogue, reason: Reason | Mapping[str, Any], lang: str) -> str:
    """One reason of a suggestion in the page's language."""
    kind = reason.kind if isinstance(reason, Reason) else str(reason.get("kind"))
    tag = reason.tag if isinstance(reason, Reason) else str(reason.get("tag"))
    snippet = reason.snippet if isinstance(reason, Reason) else str(reason.get("snippet") or "")
    label = translate(lang, f"legal.reason.{kind}")
    if kind in ("fact", "mitigating", "aggravating"):
        return f"{label}: {catalogue.fact_label(tag, lang)}"
    if kind == "keyword":
        return f"{label}: “{tag}” — {snippet}"
    if kind == "list":
        return f"{label}: {translate(lang, f'legal.list.{tag}')} — {snippet}"
    return f"{label}: {tag}"


def _yuan(fen: int) -> str:
    yuan, rest = divmod(int(fen), 100)
    return f"{yuan:,}" + (f".{rest:02d}" if rest else "")


def suggestion_out(catalogue: Catalogue, s: Suggestion, lang: str) -> dict[str, Any]:
    a = s.assessment
    entry = s.entry
    if a.band != "no_penalty":
        band_text = entry.bands[a.band].text
    else:
        band_text = a.no_penalty.text if a.no_penalty else ""
    return {
        "entry": entry.id,
        "title": entry.title(lang),
        "title_zh": entry.zh,
        "title_en": entry.en,
        "needs_confirmation": entry.needs_confirmation,
        "score": s.score,
        "band": a.band,
        "band_text": band_text,
        "min_fen": a.min_fen,
        "max_fen": a.max_fen,
        "range": f"{_yuan(a.min_fen)} – {_yuan(a.max_fen)}",
        "counted_from": a.counted_from,
        "reasons": [
            {
                "kind": r.kind,
                "tag": r.tag,
                "snippet": r.snippet,
                "text": reason_text(catalogue, r, lang),
            }
            for r in s.reasons
        ],
        "violated": [c.cite() for c in entry.violated],
        "basis": [c.cite() for c in entry.basis],
    }


def _version_out(v: versions.Version) -> dict[str, Any]:
    return {
        "version": v.version,
        "sha256": v.sha256,
        "created_at": v.created_at.isoformat(),
        "actor_name": v.actor_name,
        "reason": v.reason,
        "entry_id": v.entry_id,
    }


def _api_error(exc: CaseApiError) -> HTTPException:
    return exc.http()


def _invalid(field_name: str, message: str) -> HTTPException:
    return HTTPException(
        422,
        detail={"code": "invalid_payload", "message": message, "field": field_name},
    )


# -- REST ---------------------------------------------------------------------------------------


class SuggestionsOut(BaseModel):
    catalogue: dict[str, Any]
    ticked: list[str]
    amounts_yuan: dict[str, str]
    page_text_chars: int = Field(description="Characters of captured page text searched")
    suggestions: list[dict[str, Any]]
    chosen: dict[str, Any] | None = Field(None, description="The case's newest choice")


def _catalogue_out(v: versions.Version) -> dict[str, Any]:
    return {**_version_out(v), "title": v.catalogue.title, "label": v.catalogue.label}


@router.get(
    "/api/cases/{case_id}/legal-suggestions",
    response_model=SuggestionsOut,
    tags=["legal"],
    summary="The catalogue entries that fit the case, best first, each with its reasons",
    responses={
        401: {"description": "No valid API token (or a disabled account)"},
        404: {"description": "No such case (or another unit's)"},
    },
)
def api_suggestions(
    case_id: CaseId,
    request: Request,
    user: ApiUser,
    fact: Annotated[list[str] | None, Query(max_length=MAX_FACTS)] = None,
    lang: Annotated[str, Query(pattern="^(zh|en)$")] = "zh",
) -> SuggestionsOut:
    """Ranked on the ticked facts (``fact``, repeatable; amounts as ``amount_<fact>`` in
    yuan, e.g. ``amount_illegal_income_yuan=3200``) and the text of the case's sealed
    captures, from the unit's current catalogue. Each suggestion gives its reasons, the band
    the mitigating and aggravating factors give and its amount range (fen)."""
    ctx = case_ctx(request)
    try:
        unit_id = visible_unit(ctx, user, case_id)
    except CaseApiError as exc:
        raise exc.http() from exc
    now = versions.current(ctx.sessions, unit_id)
    amounts = {
        k[len("amount_") :]: v for k, v in request.query_params.items() if k.startswith("amount_")
    }
    text = case_page_text(services_of(request), case_id)
    try:
        observed = observed_from(now.catalogue, fact or [], amounts, text)
    except ChoiceError as exc:
        raise _invalid(exc.field, str(exc)) from exc
    return SuggestionsOut(
        catalogue=_catalogue_out(now),
        ticked=sorted(observed.ticked),
        amounts_yuan={k: str(v) for k, v in observed.amounts.items()},
        page_text_chars=len(text),
        suggestions=[
            suggestion_out(now.catalogue, s, lang) for s in suggest(now.catalogue, observed)
        ],
        chosen=legal_basis.latest_choice(ctx, case_id),
    )


class ChoiceBody(BaseModel):
    entry: str = Field(min_length=1, max_length=64, description="The entry chosen (its id)")
    band: str | None = Field(
        None, description="no_penalty, mild, ordinary or serious; default: the suggested one"
    )
    amount_fen: int | None = Field(None, ge=0, le=10**12, description="The fine, in fen")
    reason: str = Field(
        "", max_length=2000, description="Why, when departing from the suggestion (required then)"
    )
    facts: list[str] = Field(default_factory=list, max_length=MAX_FACTS)
    amounts_yuan: dict[str, str] = Field(default_factory=dict)


class ChoiceOut(BaseModel):
    event_seq: int
    chosen: dict[str, Any]


def _staffed_officer(ctx: CaseContext, user: User, case_id: str) -> None:
    if "officer" not in held_roles(ctx, user, case_id):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail={
                "code": "not_staffed",
                "message": f"only an officer staffed on case {case_id} chooses its legal basis",
            },
        )


@router.post(
    "/api/cases/{case_id}/legal-basis",
    response_model=ChoiceOut,
    status_code=201,
    tags=["legal"],
    summary="Choose the case's legal basis from the catalogue (recorded as a case event)",
    responses={
        401: {"description": "No valid API token (or a disabled account)"},
        403: {"description": "Not staffed on the case as an officer"},
        404: {"description": "No such case (or another unit's)"},
        422: {"description": "Invalid choice, or a departure without a reason (`field`)"},
    },
)
def api_choose(case_id: CaseId, body: ChoiceBody, request: Request, user: ApiUser) -> ChoiceOut:
    """The event records what the suggestion was (on these facts and the captured text),
    what was chosen and, when the choice departs from the top suggestion, its band or its
    range, the reason. The documents then take their provisions, legal basis and discretion
    from the chosen entry unless the officer typed them."""
    ctx = case_ctx(request)
    try:
        visible_unit(ctx, user, case_id, "act")
    except CaseApiError as exc:
        raise exc.http() from exc
    _staffed_officer(ctx, user, case_id)
    return ChoiceOut(**_choose(request, ctx, user, case_id, body))


def _choose(
    request: Request, ctx: CaseContext, user: User, case_id: str, body: ChoiceBody
) -> dict[str, Any]:
    unit = visible_unit(ctx, user, case_id, "act")
    now = versions.current(ctx.sessions, unit)
    try:
        observed = observed_from(
            now.catalogue,
            body.facts,
            body.amounts_yuan,
            case_page_text(services_of(request), case_id),
        )
        choice = ChoiceIn(body.entry, body.band or None, body.amount_fen, body.reason)
        seq = legal_basis.choose(ctx, actor_of(user, "officer"), case_id, observed, choice)
    except ChoiceError as exc:
        raise _invalid(exc.field, str(exc)) from exc
    except PayloadError as exc:
        raise _invalid(exc.field, str(exc)) from exc
    except CaseNotFound as exc:
        raise HTTPException(404, detail={"code": "not_found", "message": str(exc)}) from exc
    return {"event_seq": seq, "chosen": legal_basis.latest_choice(ctx, case_id) or {}}


class CatalogueOut(BaseModel):
    current: dict[str, Any] = Field(description="The current version, with the catalogue")
    history: list[dict[str, Any]] = Field(description="Every version, newest first")


def _api_catalogue_user(request: Request, user: User) -> int:
    if not _may(request, user, "legal_catalogue") or user.unit_id is None:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail={"code": "forbidden", "message": "the legal catalogue is for a unit's staff"},
        )
    return user.unit_id


@router.get(
    "/api/legal/catalogue",
    response_model=CatalogueOut,
    tags=["legal"],
    summary="The unit's legal-basis and discretion catalogue: current version and history",
)
def api_catalogue(
    request: Request,
    user: ApiUser,
    version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> CatalogueOut:
    """``version``: a past version instead of the current one (what a case names)."""
    unit_id = _api_catalogue_user(request, user)
    sessions = case_ctx(request).sessions
    shown = versions.current(sessions, unit_id)
    if version is not None:
        found = versions.get(sessions, unit_id, version)
        if found is None:
            raise HTTPException(
                404, detail={"code": "not_found", "message": f"no version {version}"}
            )
        shown = found
    return CatalogueOut(
        current={**_catalogue_out(shown), "catalogue": shown.catalogue.to_dict()},
        history=[
            {
                "version": h.version,
                "created_at": h.created_at.isoformat(),
                "actor_name": h.actor_name,
                "reason": h.reason,
                "entry_id": h.entry_id,
                "sha256": h.sha256,
            }
            for h in versions.history(sessions, unit_id)
        ],
    )


# -- the case page's form ---------------------------------------------------------------------


@router.post("/cases/{case_id}/legal-basis", include_in_schema=False)
async def choose_form(request: Request, case_id: CaseId) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf") or ""))
    user = require_officer(request)
    if isinstance(user, Response):
        return user
    ctx = case_ctx(request)
    try:
        unit = visible_unit(ctx, user, case_id, "act")
    except CaseApiError:
        raise HTTPException(404, "no such case") from None
    now = versions.current(ctx.sessions, unit)
    facts, amounts = _form_inputs(now.catalogue, form, form.getlist)
    back: list[tuple[str, str]] = [("legal", "1"), *(("fact", f) for f in facts)]
    back += [(f"amount_{k}", v) for k, v in amounts.items()]
    for key in ("entry", "band", "amount", "reason"):
        if form.get(key):
            back.append((f"legal_{key}", str(form.get(key))[:2000]))
    if "officer" not in held_roles(ctx, user, case_id):
        return _back(case_id, [*back, ("legal_error", "role")])
    try:
        body = ChoiceBody(
            entry=str(form.get("entry") or "")[:64] or "-",
            band=str(form.get("band") or "") or None,
            amount_fen=amount_fen_from_yuan(str(form.get("amount") or "")),
            reason=str(form.get("reason") or "")[:2000],
            facts=facts,
            amounts_yuan=amounts,
        )
        _choose(request, ctx, user, case_id, body)
    except ChoiceError as exc:
        return _back(case_id, [*back, ("legal_error", exc.field)])
    except HTTPException as exc:
        detail: dict[str, Any] = exc.detail if isinstance(exc.detail, dict) else {}
        return _back(case_id, [*back, ("legal_error", str(detail.get("field") or "entry"))])
    return RedirectResponse(f"/cases/{case_id}?legal_done=1#legal", status_code=303)


def _back(case_id: str, query: list[tuple[str, str]]) -> RedirectResponse:
    return RedirectResponse(f"/cases/{case_id}?{urlencode(query)}#legal", status_code=303)


# -- the catalogue pages ----------------------------------------------------------------------


def _lines(citations: Sequence[Mapping[str, Any]]) -> str:
    return "\n".join(f"{c.get('rule')} | {c.get('article')} | {c.get('source')}" for c in citations)


def _tags(values: Sequence[str] | None) -> str:
    return ", ".join(values or [])


def entry_form_values(raw: Mapping[str, Any]) -> dict[str, str]:
    """An entry (its TOML shape) as the edit form's fields."""
    out = {
        "zh": str(raw.get("zh", "")),
        "en": str(raw.get("en", "")),
        "item": str(raw.get("item", "")),
        "confirmed": "" if raw.get("needs_confirmation", True) else "1",
        "facts": _tags(raw.get("facts")),
        "keywords": _tags(raw.get("keywords")),
        "absent_keywords": _tags(raw.get("absent_keywords")),
        "violated": _lines(raw.get("violated", [])),
        "basis": _lines(raw.get("basis", [])),
        "penalty_text": str((raw.get("penalty") or {}).get("text", "")),
        "penalty_min": str((raw.get("penalty") or {}).get("min_yuan", "")),
        "penalty_max": str((raw.get("penalty") or {}).get("max_yuan", "")),
        "mitigating": _tags(raw.get("mitigating")),
        "aggravating": _tags(raw.get("aggravating")),
    }
    for band in BANDS:
        b = (raw.get("bands") or {}).get(band) or {}
        out[f"{band}_min"] = str(b.get("min_yuan", ""))
        out[f"{band}_max"] = str(b.get("max_yuan", ""))
        out[f"{band}_text"] = str(b.get("text", ""))
        multiple = b.get("multiple")
        out[f"{band}_multiple"] = f"{multiple[0]}-{multiple[1]}" if multiple else ""
        out[f"{band}_of"] = str(b.get("of") or "")
    for name in ("first_violation", "minor_violation"):
        item = raw.get(name) or {}
        out[f"{name}_facts"] = _tags(item.get("facts"))
        out[f"{name}_text"] = str(item.get("text", ""))
    return out


class FormProblem(ValueError):
    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


def _split(text: str) -> list[str]:
    return [t.strip() for t in text.replace("，", ",").replace("、", ",").split(",") if t.strip()]


def _citations_from(name: str, text: str) -> list[dict[str, str]]:
    out = []
    for n, line in enumerate(x for x in text.splitlines() if x.strip()):
        parts = [p.strip() for p in line.split("|")]
        if len(parts) != 3 or not all(parts):
            raise FormProblem(name, f"line {n + 1}: write rule | article | source")
        out.append({"rule": parts[0].strip("《》"), "article": parts[1], "source": parts[2]})
    return out


def _whole(name: str, text: str) -> int:
    try:
        value = int(text.strip().replace(",", ""))
    except ValueError:
        raise FormProblem(name, "a whole number of yuan") from None
    return value


def entry_from_form(entry_id: str, form: Mapping[str, str]) -> dict[str, Any]:
    """The entry's TOML shape from the edit form; :class:`FormProblem` names a bad field (the
    catalogue's own checks then judge the whole)."""
    get = lambda key: str(form.get(key) or "").strip()  # noqa: E731
    entry: dict[str, Any] = {
        "id": entry_id,
        "item": get("item"),
        "zh": get("zh"),
        "en": get("en"),
        "needs_confirmation": not get("confirmed"),
        "facts": _split(get("facts")),
        "keywords": _split(get("keywords")),
        "violated": _citations_from("violated", get("violated")),
        "basis": _citations_from("basis", get("basis")),
        "penalty": {
            "text": get("penalty_text"),
            "min_yuan": _whole("penalty_min", get("penalty_min")),
            "max_yuan": _whole("penalty_max", get("penalty_max")),
        },
        "mitigating": _split(get("mitigating")),
        "aggravating": _split(get("aggravating")),
        "bands": {},
    }
    if get("absent_keywords"):
        entry["absent_keywords"] = _split(get("absent_keywords"))
    for band in BANDS:
        b: dict[str, Any] = {
            "min_yuan": _whole(f"{band}_min", get(f"{band}_min")),
            "max_yuan": _whole(f"{band}_max", get(f"{band}_max")),
            "text": get(f"{band}_text"),
        }
        if get(f"{band}_multiple") or get(f"{band}_of"):
            try:
                low, high = (float(x) for x in get(f"{band}_multiple").split("-"))
            except ValueError:
                raise FormProblem(
                    f"{band}_multiple", "write the multiples as low-high, e.g. 3-5"
                ) from None
            b["multiple"] = [low, high]
            b["of"] = get(f"{band}_of")
        entry["bands"][band] = b
    for name in ("first_violation", "minor_violation"):
        if get(f"{name}_facts") or get(f"{name}_text"):
            entry[name] = {"facts": _split(get(f"{name}_facts")), "text": get(f"{name}_text")}
    return entry


def _catalogue_gate(request: Request, verb: str) -> User | Response:
    user = require_officer(request)
    if isinstance(user, Response):
        return user
    if not _may(request, user, verb):
        return render(request, "error.html", 403, message=translate("zh", "legal.err.forbidden"))
    return user


@router.get("/legal", include_in_schema=False)
def catalogue_page(request: Request, version: int | None = None) -> Response:
    user = _catalogue_gate(request, "legal_catalogue")
    if isinstance(user, Response):
        return user
    assert user.unit_id is not None
    sessions = case_ctx(request).sessions
    now = versions.current(sessions, user.unit_id)
    shown = versions.get(sessions, user.unit_id, version) if version else now
    if shown is None:
        shown = now
    return render(
        request,
        "legal_catalogue.html",
        user=user,
        shown=shown,
        current=now,
        history=versions.history(sessions, user.unit_id),
        may_edit=_may(request, user, "edit_legal_catalogue") and shown.version == now.version,
        yuan=_yuan,
        bands=BANDS,
        done=request.query_params.get("done", ""),
    )


def _entry_page(
    request: Request,
    user: User,
    now: versions.Version,
    entry_id: str,
    values: Mapping[str, str],
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "legal_entry.html",
        status_code,
        user=user,
        current=now,
        entry_id=entry_id,
        values=values,
        error=error,
        bands=BANDS,
    )


@router.get("/legal/entries/{entry_id}", include_in_schema=False)
def entry_page(request: Request, entry_id: Annotated[str, PathParam(max_length=64)]) -> Response:
    user = _catalogue_gate(request, "edit_legal_catalogue")
    if isinstance(user, Response):
        return user
    assert user.unit_id is not None
    now = versions.current(case_ctx(request).sessions, user.unit_id)
    try:
        raw = now.catalogue.entry_dict(entry_id)
    except KeyError:
        return render(request, "error.html", 404, message=f"no entry {entry_id}")
    return _entry_page(request, user, now, entry_id, entry_form_values(raw))


@router.post("/legal/entries/{entry_id}", include_in_schema=False)
async def entry_save(
    request: Request, entry_id: Annotated[str, PathParam(max_length=64)]
) -> Response:
    form: FormData = await request.form()
    check_csrf(request, str(form.get("csrf") or ""))
    user = _catalogue_gate(request, "edit_legal_catalogue")
    if isinstance(user, Response):
        return user
    assert user.unit_id is not None
    sessions = case_ctx(request).sessions
    now = versions.current(sessions, user.unit_id)
    values = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    if not now.catalogue.has(entry_id):
        return render(request, "error.html", 404, message=f"no entry {entry_id}")
    try:
        entry = entry_from_form(entry_id, values)
        base = int(values.get("base") or 0)
        versions.edit_entry(
            sessions,
            user.unit_id,
            actor=f"user:{user.id}",
            actor_name=actor_name(user),
            base=base,
            entry=entry,
            reason=values.get("reason", ""),
        )
    except (FormProblem, versions.VersionError) as exc:
        return _entry_page(request, user, now, entry_id, values, str(exc), 422)
    return RedirectResponse(f"/legal?done={entry_id}#entry-{entry_id}", status_code=303)


def when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")
