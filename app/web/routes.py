"""The dashboard pages: login, Now, Machines, Contributors, Products, Money, Review, public view.

Pages read through the same query modules as the API; actions on them (assign,
enrol, approve, reject, close, add a window) call the REST API from the page
with the session's CSRF token. No inline scripts: the Content-Security-Policy
allows scripts from this origin only.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import func
from sqlmodel import col, select

from app.accounting.contributions import service as contribution_rules
from app.accounting.contributions.derived import sync_derived_contributions
from app.accounting.contributions.tables import Contribution, ContributionStatus, Unit
from app.accounting.equations.preview import preview_sale
from app.accounting.figures.queries import money_summary, product_figures
from app.accounting.payouts.service import balances
from app.accounting.products.tables import Product
from app.accounting.sales.tables import Sale, Split, SplitShare
from app.api.csv_out import csv_download, csv_rows
from app.api.deps import SessionDep
from app.api.keys import find_key
from app.api.routes.stats import FiltersDep
from app.api.web_sessions import COOKIE_NAME, csrf_matches, end_session, find_session, start_session
from app.crud import get_or_404
from app.errors import LabLedgerError, NotFound
from app.ingest.status import BrokerStatus
from app.lab.activity import LabSession, MachineRun, UnknownScan
from app.lab.downtime import MachineDowntime, machine_out_of_service
from app.lab.live import lab_now, present_now
from app.lab.models import Badge, Contributor, Machine, Reader
from app.lab.periods import Period
from app.lab.queries import machine_state
from app.lab.stats import REASONS, Filters, contributor_hours, machine_hours, utilisation
from app.web import format as fmt
from app.web.auth import READ_ROLES, page_user, safe_next, same_origin, set_cookie
from app.web.public import public_context, public_valueflows
from app.web.table_csv import csv_href, table_rows

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.filters.update(
    duration=fmt.duration, moment=fmt.moment, percent=fmt.percent, hours=fmt.hours, words=fmt.words
)
templates.env.globals["csv_href"] = csv_href

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    """A page, with the Content-Security-Policy and the broker state every page shows."""
    broker: BrokerStatus = request.app.state.broker_status
    locale = request.app.state.settings.display_locale
    templates.env.filters["money"] = lambda minor, currency: fmt.money(minor, currency, locale)
    context = {
        "broker_state": broker.state.value,
        "user": None,
        "public": False,
        "section": "",
        "one_microsecond": timedelta(microseconds=1),
        **context,
    }
    response = templates.TemplateResponse(request, name, context, status_code=status)
    wanted = request.query_params.get("csv")
    if wanted is not None and status == 200:
        return _table_download(bytes(response.body).decode(), wanted, name)
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def _table_download(html: str, table_id: str, template: str) -> Response:
    """One table of a rendered page as a CSV attachment (404 when the page has no such table)."""
    rows = table_rows(html, table_id[:100])
    if rows is None:
        raise NotFound(f"this page has no table {table_id[:100]!r}")
    header, *body = rows if rows else [[]]
    name = f"{template.removesuffix('.html')}-{table_id}"
    return csv_download(csv_rows(header, body), "".join(c for c in name if c.isalnum() or c == "-"))


def _login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target)}", status_code=303)


def _csv_link(path: str, f: Filters) -> str:
    params: dict[str, str] = {
        "format": "csv",
        "since": f.since.isoformat(),
        "until": f.until.isoformat(),
        "by": f.by.value,
    }
    for name in ("machine_id", "contributor_id", "product_id", "role"):
        value = getattr(f, name)
        if value is not None:
            params[name] = str(value)
    return f"/api/v1/stats/{path}?{urlencode(params)}"


def _products(db: SessionDep) -> list[tuple[int, str]]:
    rows = db.execute(
        select(col(Product.id), col(Product.name))
        .where(col(Product.active))
        .order_by(col(Product.name))
    )
    return [(int(a), str(b)) for a, b in rows]


def _people(db: SessionDep) -> list[tuple[int, str]]:
    rows = db.execute(
        select(col(Contributor.id), col(Contributor.name))
        .where(col(Contributor.active), col(Contributor.is_commons_fund).is_(False))
        .order_by(col(Contributor.name))
    )
    return [(int(a), str(b)) for a, b in rows]


def _quantity(row: Contribution) -> str:
    """A contribution's amount as the pages write it: durations as `2 h 30 min`, money formatted."""
    if row.unit == Unit.MS:
        return fmt.duration(row.quantity / 1000)
    return contribution_rules.display(row)


def _everyone(db: SessionDep) -> list[tuple[int, str]]:
    rows = db.execute(select(col(Contributor.id), col(Contributor.name)))
    return [(int(a), str(b)) for a, b in rows]


def _page_filters(f: Filters, request: Request) -> Filters:
    """Dates picked on a page are whole days: `until` is taken as the end of that day."""
    until = request.query_params.get("until")
    if until and len(until) == len("2026-01-31"):
        f = Filters(
            f.since, f.until + timedelta(days=1), f.by, f.machine_id,
            f.contributor_id, f.product_id, f.role,
        )  # fmt: skip
    return f


# --- login ---------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None) -> Response:
    """The login form."""
    return render(
        request,
        "login.html",
        {
            "title": "Log in",
            "next": safe_next(next),
            "public_enabled": request.app.state.settings.public_dashboard,
        },
    )


@router.post("/login")
def login(
    request: Request,
    db: SessionDep,
    api_key: Annotated[str, Form(max_length=300)],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """Exchange an API key for a session cookie."""
    context = {"title": "Log in", "next": safe_next(next), "public_enabled": False}
    if not same_origin(request):
        return render(
            request, "login.html", {**context, "error": "Log in from this site's own page."}, 403
        )
    key = find_key(db, api_key.strip())
    if key is None or key.role not in READ_ROLES:
        error = "That key is not valid here." if key is None else "Device keys cannot log in."
        return render(request, "login.html", {**context, "error": error}, 401)
    lifetime = request.app.state.settings.session_lifetime_s
    _row, token = start_session(db, key, lifetime)
    response = RedirectResponse(safe_next(next), status_code=303)
    set_cookie(response, request, token, lifetime)
    return response


@router.post("/logout")
def logout(
    request: Request, db: SessionDep, csrf_token: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    """End the browser's session."""
    token = request.cookies.get(COOKIE_NAME)
    found = find_session(db, token)
    if found is not None and csrf_matches(found[0], csrf_token):
        end_session(db, token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE_NAME, path="/")
    return response


# --- pages -----------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def now_page(request: Request, db: SessionDep) -> Response:
    """Now: every machine's card, who is in the lab, recent unknown scans; live."""
    user = page_user(request, db)
    if user is None:
        return _login_redirect(request)
    return render(
        request, "now.html", {"title": "Now", "section": "Now", "user": user, "now": lab_now(db)}
    )


@router.get("/machines", response_class=HTMLResponse)
def machines_page(request: Request, db: SessionDep, f: FiltersDep) -> Response:
    """Machines & hours: busy vs idle over time, utilisation, runs by end reason."""
    user = page_user(request, db)
    if user is None:
        return _login_redirect(request)
    f = _page_filters(f, request)
    rows = machine_hours(db, f)
    periods = sorted({r.period for r in rows})
    busy = {p: 0.0 for p in periods}
    idle = {p: 0.0 for p in periods}
    per_machine: dict[int, dict[str, Any]] = {}
    for r in rows:
        busy[r.period] += r.busy_s
        idle[r.period] += r.idle_s
        total = per_machine.setdefault(
            r.machine_id,
            {"machine_id": r.machine_id, "machine": r.machine, "runs": 0, "busy_s": 0.0,
             "wall_s": 0.0, "idle_s": 0.0, "available_s": 0.0, "energy_wh": 0.0,
             **dict.fromkeys(REASONS, 0)},
        )  # fmt: skip
        for name in ("runs", "busy_s", "wall_s", "idle_s", "available_s", "energy_wh", *REASONS):
            total[name] += getattr(r, name)
    for total in per_machine.values():
        available = total["available_s"]
        total["utilisation"] = utilisation(total["busy_s"], available)
    chart = {
        "type": "bar",
        "stacked": True,
        "labels": periods,
        "series": [
            {"label": "Busy hours", "data": [fmt.hours(busy[p]) for p in periods]},
            {"label": "Idle hours", "data": [fmt.hours(idle[p]) for p in periods]},
        ],
    }
    return render(
        request,
        "machines.html",
        {
            "title": "Machines & hours",
            "section": "Machines",
            "user": user,
            "f": f,
            "csv": _csv_link("machines", f),
            "chart": chart,
            "per_machine": list(per_machine.values()),
            "reasons": REASONS,
        },
    )


@router.get("/machines/{machine_id}", response_class=HTMLResponse)
def machine_page(request: Request, db: SessionDep, machine_id: int) -> Response:
    """One machine: its state, run history and maintenance windows."""
    user = page_user(request, db)
    if user is None:
        return _login_redirect(request)
    machine = get_or_404(db, Machine, machine_id)
    now = datetime.now(UTC)
    runs = [
        (
            run,
            who,
            run.busy_s + (now - run.busy_since).total_seconds() if run.busy_since else run.busy_s,
        )
        for run, who in db.execute(
            select(MachineRun, col(Contributor.name))
            .outerjoin(Contributor, col(Contributor.id) == MachineRun.operator_id)
            .where(col(MachineRun.machine_id) == machine_id)
            .order_by(col(MachineRun.started_at).desc())
            .limit(100)
        ).all()
    ]
    windows = db.exec(
        select(MachineDowntime)
        .where(col(MachineDowntime.machine_id) == machine_id)
        .order_by(col(MachineDowntime.starts_at).desc())
    ).all()
    return render(
        request,
        "machine.html",
        {
            "title": machine.name,
            "section": "Machines",
            "user": user,
            "machine": machine,
            "state": machine_state(db, machine),
            "down": machine_out_of_service(db, machine_id, datetime.now(UTC)),
            "runs": runs,
            "windows": windows,
        },
    )


@router.get("/contributors", response_class=HTMLResponse)
def contributors_page(request: Request, db: SessionDep, f: FiltersDep) -> Response:
    """Contributors: labour hours and machine credits per person, per product, over a period."""
    user = page_user(request, db)
    if user is None:
        return _login_redirect(request)
    f = _page_filters(f, request)
    totals: dict[int, dict[str, Any]] = {}
    whole = replace(f, by=Period.YEAR, totals=True)  # one row per person, summed in the database
    for r in contributor_hours(db, whole):
        t = totals.setdefault(
            r.contributor_id,
            {"contributor_id": r.contributor_id, "contributor": r.contributor, "link": True,
             "sessions": 0, "labour_s": 0.0, "operated_busy_s": 0.0, "machine_credit_s": 0.0},
        )  # fmt: skip
        for name in ("sessions", "labour_s", "operated_busy_s", "machine_credit_s"):
            t[name] += getattr(r, name)
    people = sorted(totals.values(), key=lambda t: -(t["labour_s"] + t["operated_busy_s"]))
    chart = {
        "type": "bar",
        "stacked": False,
        "labels": [t["contributor"] for t in people],
        "series": [
            {"label": "Labour hours", "data": [fmt.hours(t["labour_s"]) for t in people]},
            {"label": "Machine hours run",
             "data": [fmt.hours(t["operated_busy_s"]) for t in people]},
            {"label": "Machine hours provided",
             "data": [fmt.hours(t["machine_credit_s"]) for t in people]},
        ],
    }  # fmt: skip
    return render(
        request,
        "contributors.html",
        {
            "title": "Contributors",
            "section": "Contributors",
            "user": user,
            "f": f,
            "csv": _csv_link("contributors", f),
            "products": _products(db),
            "chart": chart,
            "totals": people,
        },
    )


@router.get("/contributors/{contributor_id}", response_class=HTMLResponse)
def contributor_page(request: Request, db: SessionDep, contributor_id: int) -> Response:
    """One contributor: sessions, runs, contributions, shares of sales and balance."""
    user = page_user(request, db)
    if user is None:
        return _login_redirect(request)
    person = get_or_404(db, Contributor, contributor_id)
    sync_derived_contributions(db)  # shown, not committed: the page writes nothing
    sessions = [
        (s, where, (s.closed_at - s.opened_at).total_seconds() if s.closed_at else None)
        for s, where in db.execute(
            select(LabSession, col(Machine.name))
            .outerjoin(Machine, col(Machine.id) == LabSession.machine_id)
            .where(col(LabSession.contributor_id) == contributor_id)
            .order_by(col(LabSession.opened_at).desc())
            .limit(50)
        ).all()
    ]
    runs = db.execute(
        select(MachineRun, col(Machine.name))
        .join(Machine, col(Machine.id) == MachineRun.machine_id)
        .where(col(MachineRun.operator_id) == contributor_id)
        .order_by(col(MachineRun.started_at).desc())
        .limit(50)
    ).all()
    names = dict(_products(db))
    contributions = [
        {
            "occurred_at": c.occurred_at,
            "kind": c.kind,
            "display": _quantity(c),
            "product": names.get(c.product_id) if c.product_id else None,
            "status": c.status,
        }
        for c in db.exec(
            select(Contribution)
            .where(col(Contribution.contributor_id) == contributor_id)
            .order_by(col(Contribution.occurred_at).desc())
            .limit(50)
        ).all()
    ]
    shares = db.execute(
        select(
            col(Split.created_at),
            col(Product.name),
            col(SplitShare.amount_minor),
            col(Split.currency),
        )
        .join(Split, col(Split.id) == SplitShare.split_id)
        .join(Product, col(Product.id) == Split.product_id)
        .where(col(SplitShare.contributor_id) == contributor_id)
        .order_by(col(Split.created_at).desc())
        .limit(50)
    ).all()
    owed = [b for b in balances(db) if b.contributor_id == contributor_id]
    return render(
        request,
        "contributor.html",
        {
            "title": person.name,
            "section": "Contributors",
            "user": user,
            "person": person,
            "sessions": sessions,
            "runs": runs,
            "contributions": contributions,
            "shares": shares,
            "balances": owed,
        },
    )


@router.get("/products", response_class=HTMLResponse)
def products_page(request: Request, db: SessionDep, f: FiltersDep) -> Response:
    """Products: time put in and value brought over a period."""
    user = page_user(request, db)
    if user is None:
        return _login_redirect(request)
    f = _page_filters(f, request)
    totals: dict[tuple[int, str | None], dict[str, Any]] = {}
    whole = Filters(
        f.since, f.until, Period.YEAR, f.machine_id, f.contributor_id, f.product_id, f.role
    )
    for r in product_figures(db, whole):  # the page shows totals: the coarsest bucket will do
        t = totals.setdefault(
            (r.product_id, r.currency),
            {"product_id": r.product_id, "product": r.product, "currency": r.currency,
             "labour_s": 0.0, "machine_s": 0.0, "lines": 0, "net_minor": 0, "allocated_minor": 0},
        )  # fmt: skip
        for name in ("labour_s", "machine_s", "lines", "net_minor", "allocated_minor"):
            t[name] += getattr(r, name)
    return render(
        request,
        "products.html",
        {
            "title": "Products",
            "section": "Products",
            "user": user,
            "f": f,
            "csv": _csv_link("products", f),
            "products": _products(db),
            "totals": list(totals.values()),
        },
    )


@router.get("/products/{product_id}", response_class=HTMLResponse)
def product_page(
    request: Request,
    db: SessionDep,
    product_id: int,
    amount: str = "100.00",
    currency: str = "EUR",
) -> Response:
    """One product: contributors with points and share, the equation in force, a split preview."""
    user = page_user(request, db)
    if user is None:
        return _login_redirect(request)
    product = get_or_404(db, Product, product_id)
    preview, preview_error, shares = None, "", []
    try:
        preview = preview_sale(db, product_id, amount[:40], currency[:3])
    except LabLedgerError as exc:
        preview_error = exc.message
    if preview is not None:
        points = {p.contributor_id: p.points_rounded for p in preview.split.points}
        total = preview.amount_minor or 1
        shares = [
            {
                "name": r.display_name,
                "points": points.get(r.contributor_id, fmt.DASH),
                "percent": f"{100 * r.amount_minor / total:.1f} %",
                "amount_minor": r.amount_minor,
            }
            for r in sorted(preview.split.recipients, key=lambda r: -r.amount_minor)
        ]
    now = datetime.now(UTC)
    yearly = Filters(now - timedelta(days=365), now, Period.MONTH, product_id=product_id)
    sales = [r for r in product_figures(db, yearly) if r.currency]
    by_currency: dict[str, dict[str, float]] = {}
    for r in sales:
        by_currency.setdefault(str(r.currency), {})[r.period] = fmt.major(
            r.net_minor, str(r.currency)
        )
    labels = sorted({r.period for r in sales})
    chart = {
        "type": "line",
        "stacked": False,
        "labels": labels,
        "series": [
            {"label": f"Net sales ({c})", "data": [v.get(p, 0.0) for p in labels]}
            for c, v in sorted(by_currency.items())
        ],
    }
    return render(
        request,
        "product.html",
        {
            "title": product.name,
            "section": "Products",
            "user": user,
            "product": product,
            "preview": preview,
            "preview_error": preview_error,
            "shares": shares,
            "amount": amount,
            "currency": currency,
            "chart": chart,
        },
    )


@router.get("/money", response_class=HTMLResponse)
def money_page(request: Request, db: SessionDep) -> Response:
    """Money: sales, refunds, disputes, unallocated revenue, balances, batches, ledger head."""
    user = page_user(request, db)
    if user is None:
        return _login_redirect(request)
    sales = db.exec(select(Sale).order_by(col(Sale.occurred_at).desc()).limit(20)).all()
    # Verifying walks every ledger entry, so the page does it when asked, not on every view.
    verify = request.query_params.get("verify") == "1"
    return render(
        request,
        "money.html",
        {
            "title": "Money",
            "section": "Money",
            "user": user,
            "summary": money_summary(db, verify=verify),
            "verified": verify,
            "sales": sales,
        },
    )


@router.get("/review", response_class=HTMLResponse)
def review_page(request: Request, db: SessionDep) -> Response:
    """Review: unattributed runs, unknown badges, pending contributions, open sessions."""
    user = page_user(request, db)
    if user is None:
        return _login_redirect(request)
    runs = db.execute(
        select(MachineRun, col(Machine.name))
        .join(Machine, col(Machine.id) == MachineRun.machine_id)
        .where(col(MachineRun.operator_id).is_(None))
        .order_by(col(MachineRun.started_at).desc())
        .limit(100)
    ).all()
    enrolled = select(col(Badge.card_id)).where(col(Badge.status) == "active")
    unknown = db.execute(
        select(
            col(UnknownScan.card_id),
            func.max(UnknownScan.at),
            func.max(Reader.name),
            func.max(UnknownScan.reason),
        )
        .join(Reader, col(Reader.id) == UnknownScan.reader_id)
        .where(col(UnknownScan.card_id).not_in(enrolled))
        .group_by(col(UnknownScan.card_id))
        .order_by(func.max(UnknownScan.at).desc())
        .limit(100)
    ).all()
    names = dict(_everyone(db))
    pending = [
        {
            "id": c.id,
            "who": names.get(c.contributor_id, ""),
            "kind": c.kind,
            "display": _quantity(c),
            "note": c.note,
        }
        for c in db.exec(
            select(Contribution)
            .where(col(Contribution.status) == ContributionStatus.PENDING)
            .order_by(col(Contribution.occurred_at))
            .limit(100)
        ).all()
    ]
    return render(
        request,
        "review.html",
        {
            "title": "Review",
            "section": "Review",
            "user": user,
            "runs": runs,
            "unknown": unknown,
            "pending": pending,
            "open_sessions": present_now(db),
            "people": _people(db),
            "products": _products(db),
        },
    )


# --- the public view ----------------------------------------------------------------


def _public_enabled(request: Request) -> None:
    if not request.app.state.settings.public_dashboard:
        raise NotFound("the public dashboard is not enabled (LABLEDGER_PUBLIC_DASHBOARD)")


@router.get("/public", response_class=HTMLResponse)
def public_page(request: Request, db: SessionDep) -> Response:
    """The open books, without login: hours, product value, money flows, the ledger head."""
    _public_enabled(request)
    context = public_context(db, years=10)
    return render(request, "public.html", {"title": "Open books", "public": True, **context})


@router.get("/public/valueflows.json")
def public_export(request: Request, db: SessionDep) -> Response:
    """The Valueflows export with contributors under their public names or pseudonyms."""
    _public_enabled(request)
    return public_valueflows(db)
