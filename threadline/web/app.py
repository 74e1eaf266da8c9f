"""The steward web app: the exception queue, evidence, link decisions, costs and runs.

Server-rendered pages (Jinja2, autoescaped) over the warehouse, for SQLite and PostgreSQL alike.
Every page needs a signed-in user; what a user may do follows the role (``threadline.web.users``).
Steward actions go through ``threadline.exceptions`` and ``threadline.links``, the same functions the
command line uses, so the lifecycle and its history are one and the same.

Sessions are signed cookies (the secret comes from the environment) that end after a spell of
inactivity and, at the latest, a fixed time after sign-in. Every form carries the session's CSRF
token and a post without it is refused.
"""

from __future__ import annotations

import csv
import io
import os
import secrets
import time
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Callable, Iterable
from urllib.parse import quote, urlencode

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import FormData
from starlette.middleware.sessions import SessionMiddleware

from threadline import exceptions as lifecycle
from threadline import links as link_actions
from threadline.errors import FatalError
from threadline.web import charts, queries
from threadline.web.users import PERMISSIONS, User, authenticate, current_user
from threadline.warehouse.store import Warehouse, open_warehouse

HERE = Path(__file__).resolve().parent
SECRET_ENV = "THREADLINE_WEB_SECRET"
IDLE_MINUTES_ENV = "THREADLINE_WEB_IDLE_MINUTES"
MIN_SECRET_LENGTH = 32
CHOICES_SECONDS = 60.0


class WebConfigError(FatalError):
    """The web app cannot start as configured."""


@dataclass(frozen=True)
class WebSettings:
    """What the app needs: the warehouse, the session secret and how long sessions last."""

    warehouse_url: str
    secret: str
    idle_minutes: int = 60
    max_hours: int = 12
    https_only: bool = False
    reports_dir: Path | None = None
    demo: bool = False


def settings_from_env(warehouse_url: str, *, demo: bool = False, reports_dir: Path | None = None,
                      https_only: bool = False) -> WebSettings:
    """Settings with the session secret from $THREADLINE_WEB_SECRET.

    Without it the app refuses to start, unless ``demo`` is set: then a random secret is made for
    this process only (sessions end when it stops), which is fine on a laptop and wrong anywhere else.
    """
    secret = os.environ.get(SECRET_ENV, "")
    if not secret:
        if not demo:
            raise WebConfigError(f"set {SECRET_ENV} to a random secret of at least {MIN_SECRET_LENGTH} characters "
                                 f"(e.g. `export {SECRET_ENV}=$(python3 -c 'import secrets; "
                                 f"print(secrets.token_urlsafe(48))')`), or start with --demo on a demo warehouse")
        secret = secrets.token_urlsafe(48)
    elif len(secret) < MIN_SECRET_LENGTH:
        raise WebConfigError(f"{SECRET_ENV} is too short: give at least {MIN_SECRET_LENGTH} random characters")
    idle = os.environ.get(IDLE_MINUTES_ENV, "60")
    if not idle.isdigit() or int(idle) < 1:
        raise WebConfigError(f"{IDLE_MINUTES_ENV} must be a whole number of minutes from 1 up, not {idle!r}")
    return WebSettings(warehouse_url=warehouse_url, secret=secret, idle_minutes=int(idle), https_only=https_only,
                       reports_dir=reports_dir, demo=demo)


class _LoginRequired(Exception):
    def __init__(self, next_path: str):
        self.next_path = next_path


class _Forbidden(Exception):
    def __init__(self, user: User, what: str):
        self.user, self.what = user, what


def _base(request: Request) -> str:
    """Where the app is mounted ('' standalone, the plugin's prefix under Airflow)."""
    return request.scope.get("root_path", "").rstrip("/")


def _safe_next(value: str | None, base: str) -> str:
    # only a path inside this app: never another site (//host) nor a scheme
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return f"{base}/queue"


def _money(value: Any) -> str:
    return "" if value is None or value != value else f"{value:,.2f}"


def _pct(value: Any) -> str:
    return "" if value is None or value != value else f"{value:+.1f} %"


def _when(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)[:16]


def _environment() -> Environment:
    # autoescape on for every template: a source's text can never become markup
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(money=_money, pct=_pct, when=_when)
    return env


def _csv_response(rows: Iterable[dict[str, Any]], columns: list[str], filename: str) -> StreamingResponse:
    """Rows as a CSV download, written as they are read."""
    def lines():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(columns)
        for n, row in enumerate(rows, 1):
            writer.writerow(["" if row.get(c) is None else row.get(c) for c in columns])
            if n % 1000 == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    return StreamingResponse(lines(), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'})


def _xlsx_response(rows: list[dict[str, Any]], columns: list[str], filename: str, sheet: str) -> Response:
    """Rows as an XLSX download (one sheet, a header row, typed cells).

    Text is always written as text, so a source value such as ``=HYPERLINK(...)`` never becomes a formula.
    """
    import xlsxwriter

    out = io.BytesIO()
    workbook = xlsxwriter.Workbook(out, {"constant_memory": True, "in_memory": True})
    worksheet = workbook.add_worksheet(sheet[:31])
    moment = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    day = workbook.add_format({"num_format": "yyyy-mm-dd"})
    for col, name in enumerate(columns):
        worksheet.write_string(0, col, name)
    for row_no, row in enumerate(rows, 1):
        for col, name in enumerate(columns):
            value = row.get(name)
            if value is None or (isinstance(value, float) and value != value):
                continue
            if isinstance(value, bool):
                worksheet.write_boolean(row_no, col, value)
            elif isinstance(value, (int, float)):
                worksheet.write_number(row_no, col, value)
            elif isinstance(value, datetime):
                worksheet.write_datetime(row_no, col, value, moment)
            elif isinstance(value, date):
                worksheet.write_datetime(row_no, col, value, day)
            else:
                worksheet.write_string(row_no, col, str(value))
    workbook.close()
    return Response(out.getvalue(), media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="{filename}.xlsx"'})


def create_app(settings: WebSettings, *, warehouse: Warehouse | None = None) -> FastAPI:
    """The steward web app on the warehouse the settings name (its schema must be current)."""
    from threadline.warehouse.db import current_revision, head_revision, is_current

    warehouse = warehouse or open_warehouse(settings.warehouse_url, migrate=False)
    if not is_current(warehouse.engine):
        raise WebConfigError(f"the warehouse schema is at revision {current_revision(warehouse.engine)}, the web app "
                             f"needs {head_revision()}: run `threadline db upgrade` first")
    env = _environment()
    app = FastAPI(title="threadline", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.warehouse = warehouse
    app.state.settings = settings
    app.add_middleware(SessionMiddleware, secret_key=settings.secret, session_cookie="threadline_session",
                       max_age=settings.idle_minutes * 60, same_site="lax", https_only=settings.https_only)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy",
                                    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                                    "object-src 'none'; base-uri 'none'; frame-ancestors 'self'; form-action 'self'")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.exception_handler(_LoginRequired)
    async def to_login(request: Request, exc: _LoginRequired):
        return RedirectResponse(f"{_base(request)}/login?next={quote(exc.next_path, safe='/')}", status_code=303)

    @app.exception_handler(_Forbidden)
    async def forbidden(request: Request, exc: _Forbidden):
        return render(request, "error.html", exc.user, status_code=403, title="Not allowed",
                      message=f"Your role ({exc.user.role}) may not {exc.what}. Ask an admin for a role that may.")

    choices: dict[str, Any] = {"at": float("-inf"), "value": None}

    def queue_choices() -> dict[str, list[str]]:
        # a pass over four indexes per page is too much at 100,000 exceptions: kept for a minute, so a
        # rule or assignee that has just appeared shows in the filters a minute later (the URL takes it at once)
        if time.monotonic() - choices["at"] > CHOICES_SECONDS:
            choices.update(at=time.monotonic(), value=queries.queue_choices(warehouse))
        return choices["value"]

    def csrf_token(request: Request) -> str:
        token = request.session.get("csrf")
        if not token:
            token = request.session["csrf"] = secrets.token_urlsafe(32)
        return token

    def render(request: Request, template: str, user: User | None, *, status_code: int = 200,
               **context: Any) -> HTMLResponse:
        flashes = request.session.pop("flash", [])
        html = env.get_template(template).render(
            request=request, base=_base(request), user=user, csrf=csrf_token(request), flashes=flashes,
            demo=settings.demo, can=(lambda p: user is not None and user.can(p)), **context)
        return HTMLResponse(html, status_code=status_code)

    def flash(request: Request, kind: str, text: str) -> None:
        request.session["flash"] = [*request.session.get("flash", []), {"kind": kind, "text": text}]

    def signed_in(request: Request) -> User:
        name = request.session.get("user")
        login_at = request.session.get("login_at", 0)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if not name or time.time() - login_at > settings.max_hours * 3600:
            request.session.pop("user", None)
            raise _LoginRequired(target)
        user = current_user(warehouse, name)
        if user is None:  # removed or disabled since signing in
            request.session.clear()
            raise _LoginRequired(target)
        return user

    def allowed(permission: str, what: str) -> Callable[..., User]:
        assert permission in PERMISSIONS

        def dependency(user: User = Depends(signed_in)) -> User:
            if not user.can(permission):
                raise _Forbidden(user, what)
            return user
        return dependency

    async def checked_form(request: Request) -> FormData:
        form = await request.form()
        sent = form.get("csrf_token") or request.headers.get("x-csrf-token") or ""
        expected = request.session.get("csrf") or ""
        if not expected or not isinstance(sent, str) or not secrets.compare_digest(sent, expected):
            raise HTTPException(403, "the form's security token is missing or stale: reload the page and try again")
        return form

    def export_allowed(request: Request, user: User) -> str | None:
        fmt = request.query_params.get("format")
        if fmt in ("csv", "xlsx"):
            if not user.can("export"):
                raise _Forbidden(user, "export tables")
            return fmt
        return None

    # ------------------------------------------------------------ sign-in

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> PlainTextResponse:
        return PlainTextResponse("ok")

    @app.get("/", include_in_schema=False)
    def home(request: Request):
        return RedirectResponse(f"{_base(request)}/queue", status_code=303)

    @app.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, next: str = ""):
        return render(request, "login.html", None, next=next, error=None)

    @app.post("/login", response_class=HTMLResponse)
    def login(request: Request, form: FormData = Depends(checked_form)):
        name, password = str(form.get("username", "")), str(form.get("password", ""))
        next_path = str(form.get("next", ""))
        user = authenticate(warehouse, name, password)
        if user is None:
            return render(request, "login.html", None, status_code=401, next=next_path,
                          error="Wrong user name or password.")
        request.session.clear()  # a fresh session and token on sign-in: no fixation
        request.session.update(user=user.name, login_at=time.time(), csrf=secrets.token_urlsafe(32))
        return RedirectResponse(_safe_next(next_path, _base(request)), status_code=303)

    @app.post("/logout")
    def logout(request: Request, form: FormData = Depends(checked_form)):
        request.session.clear()
        return RedirectResponse(f"{_base(request)}/login", status_code=303)

    # ------------------------------------------------------------ the queue

    @app.get("/queue", response_class=HTMLResponse)
    def queue(request: Request, user: User = Depends(signed_in)):
        query = queries.QueueQuery.from_params(request.query_params)
        fmt = export_allowed(request, user)
        columns = ["exception_id", "rule_id", "severity", "site", "status", "assignee", "age_days", "first_seen_at",
                   "last_seen_at", "wo_number", "po_number", "summary"]
        if fmt == "csv":
            return _csv_response(queries.queue_rows(warehouse, query), columns, "exceptions")
        if fmt == "xlsx":
            return _xlsx_response(list(queries.queue_rows(warehouse, query)), columns, "exceptions", "exceptions")
        started = time.perf_counter()
        page = queries.queue_page(warehouse, query)
        filter_choices = queue_choices()
        elapsed_ms = (time.perf_counter() - started) * 1000
        response = render(request, "queue.html", user, q=query, page=page, choices=filter_choices,
                          statuses=queries.STATUS_CHOICES, sorts=list(queries.SORTS), page_sizes=queries.PAGE_SIZES,
                          urlencode=urlencode, elapsed_ms=elapsed_ms)
        response.headers["Server-Timing"] = f"db;dur={elapsed_ms:.1f}"
        return response

    @app.post("/queue/bulk")
    def queue_bulk(request: Request, form: FormData = Depends(checked_form),
                   user: User = Depends(allowed("act", "work exceptions"))):
        ids = [str(i) for i in form.getlist("ids")]
        action = str(form.get("action", ""))
        back = _safe_next(str(form.get("back", "")), _base(request))
        try:
            if action == "ack":
                changes = lifecycle.acknowledge(warehouse, ids, actor=user.name)
            elif action == "assign":
                assignee = str(form.get("assignee", "")).strip()
                changes = lifecycle.assign(warehouse, ids, assignee or None, actor=user.name)
            else:
                raise lifecycle.ExceptionActionError(f"unknown bulk action {action!r}; valid: ack, assign")
            flash(request, "ok", f"{action}: {len(changes)} exception(s) done")
        except lifecycle.ExceptionActionError as exc:
            flash(request, "error", str(exc))
        return RedirectResponse(back, status_code=303)

    # ------------------------------------------------------------ one exception

    @app.get("/exceptions/{exception_id}", response_class=HTMLResponse)
    def exception_detail(request: Request, exception_id: str, user: User = Depends(signed_in)):
        try:
            exception, events = lifecycle.exception_history(warehouse, exception_id)
        except lifecycle.UnknownExceptionError:
            return render(request, "error.html", user, status_code=404, title="No such exception",
                          message=f"There is no exception {exception_id} in the warehouse.")
        work, purchasing, findings = queries.split_evidence(exception.get("evidence"))
        if not work or not purchasing:  # the other side as the warehouse holds it, marked as looked up
            related = queries.related_records(warehouse, exception, work=not work, purchasing=not purchasing)
            work = work or [r for r in related if r["entity"] in queries.WORK_ENTITIES]
            purchasing = purchasing or [r for r in related if r["entity"] not in queries.WORK_ENTITIES]
        lineage = queries.evidence_lineage(warehouse, work + purchasing)
        return render(request, "exception.html", user, e=exception, events=events, work=work, purchasing=purchasing,
                      findings=findings, lineage=lineage, allowed=lifecycle.allowed_actions(exception["status"]),
                      reasons=lifecycle.RESOLUTION_REASONS, max_waiver_days=lifecycle.MAX_WAIVER_DAYS,
                      today=date.today().isoformat())

    @app.post("/exceptions/{exception_id}/action")
    def exception_action(request: Request, exception_id: str, form: FormData = Depends(checked_form),
                         user: User = Depends(allowed("act", "work exceptions"))):
        action = str(form.get("action", ""))
        text = {k: str(form.get(k, "")) for k in ("note", "assignee", "reason", "justification", "until", "comment")}
        try:
            if action == "ack":
                lifecycle.acknowledge(warehouse, [exception_id], actor=user.name, note=text["note"])
            elif action == "assign":
                lifecycle.assign(warehouse, [exception_id], text["assignee"].strip() or None, actor=user.name)
            elif action == "comment":
                lifecycle.comment(warehouse, exception_id, text["comment"], actor=user.name)
            elif action == "resolve":
                lifecycle.resolve(warehouse, [exception_id], text["reason"], note=text["note"], actor=user.name)
            elif action == "waive":
                try:
                    until = date.fromisoformat(text["until"])
                except ValueError:
                    raise lifecycle.ExceptionActionError(
                        f"the waiver's expiry {text['until']!r} is not a date (YYYY-MM-DD)") from None
                lifecycle.waive(warehouse, [exception_id], justification=text["justification"], until=until,
                                actor=user.name)
            elif action == "reopen":
                lifecycle.reopen(warehouse, [exception_id], reason=text["reason"], actor=user.name)
            else:
                raise lifecycle.ExceptionActionError(f"unknown action {action!r}")
            flash(request, "ok", f"{action} done")
        except lifecycle.ExceptionActionError as exc:
            flash(request, "error", str(exc))
        return RedirectResponse(f"{_base(request)}/exceptions/{quote(exception_id)}", status_code=303)

    # ------------------------------------------------------------ links

    @app.get("/links", response_class=HTMLResponse)
    def links(request: Request, status: str = "suggested", user: User = Depends(signed_in)):
        if status not in (*link_actions.STATUSES, "any"):
            status = "suggested"
        rows = queries.link_rows(warehouse, status=status)
        fmt = export_allowed(request, user)
        columns = ["link_id", "status", "score", "site", "wo_number", "op_seq", "po_number", "line_number",
                   "asserted_by", "run_id"]
        if fmt == "csv":
            return _csv_response(rows, columns, "links")
        if fmt == "xlsx":
            return _xlsx_response(rows, columns, "links", "links")
        return render(request, "links.html", user, rows=rows, status=status,
                      statuses=(*link_actions.STATUSES, "any"))

    @app.post("/links/{link_id}/decision")
    def link_decision(request: Request, link_id: str, form: FormData = Depends(checked_form),
                      user: User = Depends(allowed("act", "decide on links"))):
        decision, reason = str(form.get("decision", "")), str(form.get("reason", ""))
        try:
            if decision == "confirm":
                link_actions.confirm(warehouse, [link_id], actor=user.name, reason=reason)
            elif decision == "reject":
                link_actions.reject(warehouse, [link_id], actor=user.name, reason=reason)
            else:
                raise link_actions.LinkActionError(f"unknown decision {decision!r}; valid: confirm, reject")
            flash(request, "ok", f"{link_id}: {decision}ed")
        except lifecycle.ExceptionActionError as exc:
            flash(request, "error", str(exc))
        return RedirectResponse(_safe_next(str(form.get("back", "")), _base(request)), status_code=303)

    # ------------------------------------------------------------ costs

    @app.get("/costs", response_class=HTMLResponse)
    def costs(request: Request, grain: str = "wo", site: str = "", sort: str = "actual_cost",
              user: User = Depends(signed_in)):
        grain = grain if grain in queries.COST_GRAINS else "wo"
        sort = sort if sort in queries.COST_SORTS else "actual_cost"
        fmt = export_allowed(request, user)
        keys = list(queries.COST_GRAINS[grain])
        columns = keys + [c for c in queries.COST_FIGURES] + ["run_id", "as_of", "rollup_row_id"]
        if fmt:
            rows = queries.cost_rows(warehouse, grain, site=site, sort=sort, limit=None)
            if fmt == "csv":
                return _csv_response(rows, columns, f"costs-{grain}")
            return _xlsx_response(rows, columns, f"costs-{grain}", f"costs by {grain}")
        rows = queries.cost_rows(warehouse, grain, site=site, sort=sort)
        spend = queries.outside_spend(warehouse, site=site)
        return render(request, "costs.html", user, grain=grain, grains=list(queries.COST_GRAINS), site=site,
                      sites=queries.cost_sites(warehouse), sort=sort, sorts=queries.COST_SORTS, keys=keys, rows=rows,
                      variance_chart=charts.variance_chart(rows, keys),
                      spend_chart=charts.spend_chart(spend), spend=spend)

    @app.get("/costs/export.{fmt}")
    def cost_export(fmt: str, user: User = Depends(allowed("export", "export costs"))):
        """The accountants' cost export of the current roll-up: every grain and the drill-down lines."""
        from threadline.reports.costs import NoRollupError, costs_csv_zip, costs_xlsx

        if fmt not in ("xlsx", "zip"):
            raise HTTPException(404, "the cost export comes as .xlsx or .zip (CSV files)")
        try:
            body = costs_xlsx(warehouse) if fmt == "xlsx" else costs_csv_zip(warehouse)
        except NoRollupError as exc:
            raise HTTPException(404, str(exc)) from None
        media = ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" if fmt == "xlsx"
                 else "application/zip")
        return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="costs.{fmt}"'})

    @app.get("/costs/rows/{rollup_row_id}", response_class=HTMLResponse)
    def cost_lines(request: Request, rollup_row_id: str, user: User = Depends(signed_in)):
        row, lines = queries.cost_row(warehouse, rollup_row_id)
        if row is None:
            return render(request, "error.html", user, status_code=404, title="No such roll-up row",
                          message=f"There is no roll-up row {rollup_row_id} in the warehouse.")
        fmt = export_allowed(request, user)
        columns = ["line_id", "cost_type", "site", "wo_number", "op_seq", "entity", "source_system", "source_key",
                   "line_date", "amount_source", "currency_source", "fx_rate", "amount", "converted", "problem",
                   "supplier_id", "run_id"]
        if fmt == "csv":
            return _csv_response(lines, columns, f"cost-lines-{rollup_row_id}")
        if fmt == "xlsx":
            return _xlsx_response(lines, columns, f"cost-lines-{rollup_row_id}", "cost lines")
        return render(request, "cost_row.html", user, row=row, lines=lines, columns=columns)

    # ------------------------------------------------------------ runs and quarantine

    @app.get("/runs", response_class=HTMLResponse)
    def runs(request: Request, user: User = Depends(signed_in)):
        recent = queries.recent_runs(warehouse)
        fmt = export_allowed(request, user)
        columns = ["run_id", "source", "stream", "entity", "status", "rows_read", "rows_landed", "rows_mapped",
                   "rows_quarantined", "rows_skipped", "rows_loaded", "rows_deleted", "control_sums", "started_at",
                   "finished_at", "error"]
        if fmt:
            rows = [s for r in recent for s in r["streams"]]
            return (_csv_response(rows, columns, "runs") if fmt == "csv"
                    else _xlsx_response([{**s, "control_sums": str(s["control_sums"])} for s in rows], columns,
                                        "runs", "runs"))
        return render(request, "runs.html", user, runs=recent)

    @app.get("/quarantine", response_class=HTMLResponse)
    def quarantine(request: Request, source: str = "", stream: str = "", source_stream: str = "", page: int = 1,
                   user: User = Depends(signed_in)):
        if source_stream:  # the filter's one select names both
            source, _, stream = source_stream.partition("|")
        fmt = export_allowed(request, user)
        columns = ["source", "stream", "entity", "source_key", "field", "source_column", "raw_value", "check_name",
                   "reason", "times_seen", "first_seen_at", "last_seen_at", "last_run_id"]
        if fmt:
            rows, _ = queries.quarantine_rows(warehouse, source=source, stream=stream, page=1, per_page=1_000_000)
            return (_csv_response(rows, columns, "quarantine") if fmt == "csv"
                    else _xlsx_response(rows, columns, "quarantine", "quarantine"))
        rows, total = queries.quarantine_rows(warehouse, source=source, stream=stream, page=page)
        return render(request, "quarantine.html", user, rows=rows, total=total, page=max(page, 1),
                      pages=max(1, -(-total // 100)), source=source, stream=stream,
                      streams=queries.quarantine_sources(warehouse), urlencode=urlencode)

    # ------------------------------------------------------------ audit log and reports

    @app.get("/audit", response_class=HTMLResponse)
    def audit(request: Request, actor: str = "", user: User = Depends(allowed("audit", "read the audit log"))):
        events = queries.audit_events(warehouse, actor=actor.strip())
        fmt = export_allowed(request, user)
        columns = ["at", "kind", "subject", "actor", "action", "from_status", "to_status", "reason", "run_id"]
        if fmt == "csv":
            return _csv_response(events, columns, "audit-log")
        if fmt == "xlsx":
            return _xlsx_response(events, columns, "audit-log", "audit log")
        return render(request, "audit.html", user, events=events, actor=actor)

    def report_files() -> list[Path]:
        folder = settings.reports_dir
        if folder is None or not folder.is_dir():
            return []
        return sorted((p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")),
                      key=lambda p: str(p.relative_to(folder)))

    @app.get("/reports", response_class=HTMLResponse)
    def reports(request: Request, user: User = Depends(signed_in)):
        files = [{"name": str(p.relative_to(settings.reports_dir)), "size": p.stat().st_size,
                  "modified": datetime.fromtimestamp(p.stat().st_mtime)} for p in report_files()]
        return render(request, "reports.html", user, files=files, folder=settings.reports_dir)

    @app.get("/reports/file/{name:path}")
    def report_file(name: str, user: User = Depends(allowed("export", "download reports"))):
        # only a file the listing shows: a name cannot walk out of the reports folder
        for path in report_files():
            if str(path.relative_to(settings.reports_dir)) == name:
                return FileResponse(path, filename=path.name)
        raise HTTPException(404, f"no report {name}")

    return app
