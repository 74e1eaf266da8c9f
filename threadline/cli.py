"""The ``threadline`` command line.

Every listing takes ``--json`` for scripts. Errors threadline expects (bad config, unreachable
source, invalid mapping) are printed as one clear message, not a traceback; the exit code is 2 for
fatal errors and 75 (EX_TEMPFAIL) for transient ones that a retry may fix.
"""

from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.padding import Padding
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from threadline.errors import EXPECTED_ERRORS, is_transient

app = typer.Typer(help="threadline: keeps work orders and purchase orders linked, costed and traceable.",
                  no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="Warehouse schema.", no_args_is_help=True)
runs_app = typer.Typer(help="The run log.", no_args_is_help=True)
rules_app = typer.Typer(help="The rule catalogue.", no_args_is_help=True)
exceptions_app = typer.Typer(help="Reconciliation exceptions.", no_args_is_help=True)
quarantine_app = typer.Typer(help="Rows that could not be mapped or failed a check.", no_args_is_help=True)
mappings_app = typer.Typer(help="Mapping specs.", no_args_is_help=True)
files_app = typer.Typer(help="The ledger of inbox sources (CSV/XLSX drops, B2MML).", no_args_is_help=True)
links_app = typer.Typer(help="Suggested WO-PO links (LNK-006) and the stewards' decisions on them.",
                        no_args_is_help=True)
report_app = typer.Typer(help="Reports for auditors and accountants: gaps, a work order's evidence, costs.",
                         no_args_is_help=True)
users_app = typer.Typer(help="Users of the steward web app (`threadline serve`).", no_args_is_help=True)
for sub, name in ((db_app, "db"), (runs_app, "runs"), (rules_app, "rules"), (exceptions_app, "exceptions"),
                  (links_app, "links"), (report_app, "report"), (users_app, "users"),
                  (quarantine_app, "quarantine"), (mappings_app, "mappings"), (files_app, "files")):
    app.add_typer(sub, name=name)

# piped output (CI logs, `| less`) gets a wide fixed width instead of rich's 80 columns
console = Console(width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 160)

JsonOption = typer.Option(False, "--json", help="print JSON instead of a table")


class _State:
    config_path: Optional[Path] = None


state = _State()


@app.callback()
def _global(config: Optional[Path] = typer.Option(
        None, "--config", "-c", help="threadline.yaml (default: $THREADLINE_CONFIG, then ./threadline.yaml)")):
    state.config_path = config


def _config(check_specs: bool = True):
    from threadline.config import load_config

    return load_config(state.config_path, check_specs=check_specs)


def _warehouse(migrate: bool = False):
    from threadline.warehouse.store import open_warehouse

    config = _config(check_specs=False)
    return config, open_warehouse(config.warehouse.resolved_url(), migrate=migrate)


def _print_json(payload: Any) -> None:
    typer.echo(json.dumps(payload, indent=2, default=str))


def _frame_records(frame) -> list[dict[str, Any]]:
    return json.loads(frame.to_json(orient="records", date_format="iso"))


def _table(title: str, columns: list[str], rows: list[list[Any]]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*["" if v is None or v != v else str(v) for v in row])
    return table


class RichReporter:
    """Progress bars per stream while the pipeline runs."""

    def __init__(self, progress: Progress):
        self.progress = progress
        self.tasks: dict[tuple[str, str], Any] = {}

    def stage(self, name: str) -> None:
        self.progress.console.print(f"[bold]{name}[/bold]")

    def stream_started(self, source: str, stream: str) -> None:
        self.tasks[(source, stream)] = self.progress.add_task(f"{source}.{stream}", total=None)

    def batch_loaded(self, source: str, stream: str, rows: int) -> None:
        self.progress.advance(self.tasks[(source, stream)], rows)

    def stream_finished(self, result) -> None:
        task = self.tasks[(result.source, result.stream)]
        self.progress.update(task, total=result.rows_read, completed=result.rows_read,
                             description=f"{result.source}.{result.stream} [{result.status}]")


def _progress() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description:<40}"), BarColumn(),
                    TextColumn("{task.completed:>10,.0f} rows"), TimeElapsedColumn(), console=err_console,
                    transient=False, disable=not err_console.is_terminal and os.environ.get("CI") == "true")


def _money(value: Any) -> str:
    return "-" if value is None or value != value else f"{value:,.2f}"


def _print_run(result, config_path: Path | None) -> None:
    rows = [[s.source, s.stream, s.entity, s.rows_read, s.rows_landed, s.rows_mapped, s.rows_quarantined,
             s.rows_skipped, s.rows_loaded, "-" if s.rows_deleted is None else s.rows_deleted, s.status]
            for s in result.streams]
    console.print(_table(f"Run {result.run_id}: rows per stage", [
        "source", "stream", "entity", "read", "landed", "mapped", "quarantined", "skipped", "loaded",
        "soft-deleted", "status"], rows))
    for s in result.streams:
        if s.resumes:
            console.print(f"{s.source}.{s.stream}: restarted {s.resumes} time(s) from the committed bookmark")
        if s.notes:
            console.print(f"{s.source}.{s.stream}: {s.notes}")
    if result.findings_by_rule:
        from reconciliation.catalogue import CATALOGUE

        console.print(_table("Exceptions per rule", ["rule", "severity", "count", "title"], [
            [r, CATALOGUE[r].severity, n, CATALOGUE[r].title] for r, n in result.findings_by_rule.items()]))
    if result.links.get("suggested"):
        console.print(f"link suggestions (LNK-006): {result.links['suggested']} suggested, {result.links['new']} new, "
                      f"{result.links['withdrawn']} withdrawn; see `threadline links list --status suggested`",
                      highlight=False)
    if result.costliest:
        console.print(_table("Costliest work orders (reporting currency)",
                             ["site", "wo", "kind", "actual", "estimate", "incomplete"],
                             [[c["site"], c["wo_number"], c["kind"], _money(c["actual_cost"]),
                               _money(c["estimate_cost"]), c["incomplete"]] for c in result.costliest]))
    if result.status != "succeeded":
        err_console.print(Text(f"run {result.status}: ", style="red") + Text(str(result.error)))
        return
    for name, path in result.reports.items():
        console.print(f"gap report ({name}): {path}")
    if config_path:
        console.print(f"next: threadline --config {config_path} exceptions list")


# ------------------------------------------------------------------ demo

@app.command()
def demo(scale: int = typer.Option(1000, min=10, help="number of work orders in the demo plant"),
         out: Path = typer.Option(Path("threadline-demo"), help="folder for the landscape, warehouse and reports"),
         seed: int = typer.Option(7, help="random seed; the same seed builds the same plant"),
         as_json: bool = JsonOption):
    """Build the demo landscape, start its legacy ERP service, run the whole pipeline and summarize."""
    from threadline.config import load_config
    from threadline.demo.landscape import build_landscape
    from threadline.pipeline import run_pipeline

    out = out.resolve()
    err_console.print(f"building the demo plant ({scale:,} work orders) in {out}")
    landscape = build_landscape(out, scale=scale, seed=seed)
    os.environ.update(landscape.env)
    config = load_config(landscape.config_path)
    with landscape.start_erp_service():
        with _progress() as progress:
            result = run_pipeline(config, reporter=RichReporter(progress), command="demo")
    if as_json:
        _print_json({**result.summary(), "streams": [s.log_row() for s in result.streams],
                     "costliest": result.costliest, "config": str(landscape.config_path),
                     "manifest": str(landscape.manifest_path)})
    else:
        _print_run(result, landscape.config_path)
        console.print(f"demo manifest of planted defects: {landscape.manifest_path}")
    if result.status != "succeeded":
        raise typer.Exit(1)


@app.command("demo-build")
def demo_build(out: Path = typer.Option(Path("threadline-demo"), help="folder for the landscape"),
               scale: int = typer.Option(1000, min=10, help="number of work orders in the demo plant"),
               seed: int = typer.Option(7, help="random seed; the same seed builds the same plant"),
               erp_host: Optional[str] = typer.Option(None, help="host the syncs reach the legacy ERP service at "
                                                                 "(default 127.0.0.1)"),
               erp_port: Optional[int] = typer.Option(None, help="port of the legacy ERP service (default: a free one)"),
               warehouse_url_env: Optional[str] = typer.Option(
                   None, help="environment variable holding the warehouse URL (default: SQLite in --out)"),
               erp_connection_id: Optional[str] = typer.Option(
                   None, help="Airflow Connection holding the legacy ERP's login and password")):
    """Build the demo landscape and its threadline.yaml without running anything (for Airflow, docker compose)."""
    from threadline.demo.landscape import build_landscape
    from threadline.demo.stack import retarget_config

    landscape = build_landscape(out.resolve(), scale=scale, seed=seed)
    retarget_config(landscape.config_path, erp_host=erp_host, erp_port=erp_port,
                    warehouse_url_env=warehouse_url_env, erp_connection_id=erp_connection_id)
    console.print(f"demo landscape in {landscape.out_dir}: config {landscape.config_path}, "
                  f"legacy ERP password in {landscape.out_dir / 'demo.env'}")


@app.command("demo-erp")
def demo_erp(out: Path = typer.Option(Path("threadline-demo"), help="folder `threadline demo` built"),
             host: str = typer.Option("127.0.0.1", help="address to listen on (0.0.0.0 in a container)")):
    """Serve the demo's legacy ERP web service in the foreground (for `threadline run` on the demo)."""
    import time
    from urllib.parse import urlparse

    from threadline.demo.erp_service import start_erp_service

    from threadline.config import load_config

    config = load_config(out / "threadline.yaml", check_specs=False)
    soap = next(s for s in config.sources if s.kind == "soap")
    port = urlparse(soap.connection["endpoint"]).port
    password = os.environ.get(soap.connection["password_env"])
    if password is None:
        env_file = config.base_dir / "demo.env"
        raise typer.BadParameter(f"export the variables in {env_file} first: set -a; . {env_file}; set +a")
    with start_erp_service(config.base_dir / "legacy_erp", username=soap.connection["username"],
                           password=password, host=host, port=port) as service:
        console.print(f"legacy ERP service at {service.url} (Ctrl-C stops it)")
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            pass


# ------------------------------------------------------------------ run and check

@app.command()
def run(source: list[str] = typer.Option(None, "--source", "-s", help="only this source (repeatable)"),
        full: bool = typer.Option(False, "--full", help="ignore bookmarks and read everything again"),
        as_json: bool = JsonOption):
    """Run the pipeline: extract, land, map, validate, load, reconcile, publish."""
    from threadline.pipeline import run_pipeline

    config = _config()
    with _progress() as progress:
        result = run_pipeline(config, sources=source or None, full=full, reporter=RichReporter(progress),
                              command="run --full" if full else "run")
    _report_run(result, as_json)


def _report_run(result, as_json: bool) -> None:
    """Print a run's outcome; a failed run exits 75 when only transient errors failed it, else 1."""
    if as_json:
        _print_json({**result.summary(), "streams": [s.log_row() for s in result.streams],
                     "costliest": result.costliest})
    else:
        _print_run(result, None)
    if result.status != "succeeded":
        raise typer.Exit(75 if result.transient else 1)


@app.command()
def sync(source: list[str] = typer.Option(None, "--source", "-s", help="only this source (repeatable)"),
         full: bool = typer.Option(False, "--full", help="read everything again and soft-delete rows the "
                                                         "source no longer holds"),
         as_json: bool = JsonOption):
    """Extract, land, map, validate and load, without reconciling (what a per-source schedule runs)."""
    from threadline.pipeline import run_pipeline

    config = _config()
    with _progress() as progress:
        result = run_pipeline(config, sources=source or None, full=full, reporter=RichReporter(progress),
                              command="sync --full" if full else "sync", reconcile=False)
    _report_run(result, as_json)


@app.command()
def check(as_json: bool = JsonOption):
    """Validate the config, mapping specs and data-quality suites, and test that every source answers."""
    from connectors import connector_class
    from threadline.quality import SuiteError, load_suites

    config = _config()
    results = []
    try:
        load_suites(config.suites_dir)
        suite_problems = []
    except SuiteError as exc:
        suite_problems = exc.problems
    # the suites are checked like a source: listed last, so that every source's entry keeps its place
    suites = {"source": "expectations", "kind": "suites", "ok": not suite_problems, "problems": suite_problems}
    for source in config.sources:
        try:
            with connector_class(source.kind)(source.name, config.connection_settings(source)) as connector:
                problems = connector.check()
        except EXPECTED_ERRORS as exc:
            problems = [str(exc)]
        results.append({"source": source.name, "kind": source.kind, "ok": not problems, "problems": problems})
    results.append(suites)
    if as_json:
        _print_json(results)
    else:
        for r in results:
            mark = "[green]ok[/green]" if r["ok"] else "[red]FAILED[/red]"
            name = f"data-quality suites ({config.suites_dir})" if r is suites else f"{r['source']} ({r['kind']})"
            console.print(f"{escape(name)}: {mark}")
            for p in r["problems"]:
                console.print(f"  - {p}")
    if not all(r["ok"] for r in results):
        raise typer.Exit(1)


# ------------------------------------------------------------------ db

@db_app.command("upgrade")
def db_upgrade():
    """Create or migrate the warehouse schema to the newest revision."""
    from threadline.warehouse.db import current_revision

    config, warehouse = _warehouse(migrate=True)
    console.print(f"warehouse at revision {current_revision(warehouse.engine)}")


@db_app.command("current")
def db_current():
    """Show the warehouse schema revision."""
    from threadline.warehouse.db import current_revision, head_revision

    _, warehouse = _warehouse()
    console.print(f"warehouse revision {current_revision(warehouse.engine)} (newest {head_revision()})")


# ------------------------------------------------------------------ listings

@runs_app.command("list")
def runs_list(limit: int = typer.Option(20, help="most recent runs to show"), as_json: bool = JsonOption):
    """Runs with rows per stage, control sums and timings per source and stream."""
    from threadline.warehouse import schema

    _, warehouse = _warehouse()
    runs = warehouse.read_table(schema.run, order_by=schema.run.c.started_at.desc(), limit=limit)
    streams = warehouse.read_table(schema.run_stream, schema.run_stream.c.run_id.in_(list(runs["run_id"])),
                                   order_by=schema.run_stream.c.started_at)
    if as_json:
        out = []
        for r in _frame_records(runs):
            r["summary"] = json.loads(r["summary"]) if r.get("summary") else None
            r["streams"] = [dict(s, control_sums=json.loads(s["control_sums"]) if s["control_sums"] else None)
                            for s in _frame_records(streams[streams["run_id"] == r["run_id"]])]
            out.append(r)
        _print_json(out)
        return
    for r in runs.itertuples():
        s = streams[streams["run_id"] == r.run_id]
        console.print(f"[bold]{r.run_id}[/bold] {r.command} {r.status} started {r.started_at} "
                      f"finished {r.finished_at}" + (f"\n  error: {r.error}" if r.error else ""))
        if not s.empty:
            console.print(_table("", ["source", "stream", "read", "landed", "mapped", "quarantined", "skipped",
                                      "loaded", "soft-deleted", "restarts", "seconds", "status"],
                                 [[x.source, x.stream, x.rows_read, x.rows_landed, x.rows_mapped, x.rows_quarantined,
                                   x.rows_skipped, x.rows_loaded, "-" if x.rows_deleted != x.rows_deleted or x.rows_deleted is None
                                   else int(x.rows_deleted), x.resumes,
                                   f"{x.seconds_extract + x.seconds_map + x.seconds_validate + x.seconds_load:.2f}",
                                   x.status] for x in s.itertuples()]))
            for x in s.itertuples():
                if x.notes:
                    console.print(f"  {x.source}.{x.stream}: {x.notes}")


@rules_app.command("list")
def rules_list(as_json: bool = JsonOption):
    """The rule catalogue with descriptions, the tolerances in force and their per-supplier/process overrides."""
    from reconciliation.catalogue import CATALOGUE

    tolerances: dict[str, Any] = {}
    disabled: list[str] = []
    overrides: list[Any] = []
    try:
        config = _config(check_specs=False)
        tolerances, disabled, overrides = config.rules.tolerances, config.rules.disabled, config.rules.overrides
    except EXPECTED_ERRORS:
        if state.config_path:
            raise
    rows = [{"id": r.id, "severity": r.severity, "title": r.title, "description": r.description,
             "subject": r.subject, "tolerances": {**r.tolerances, **tolerances.get(r.id, {})},
             "overrides": [o.model_dump(exclude_none=True, exclude={"rule"}) for o in overrides if o.rule == r.id],
             "enabled": r.id not in disabled} for r in CATALOGUE.values()]
    if as_json:
        _print_json(rows)
        return

    for row in rows:
        state_note = "" if row["enabled"] else "  [yellow](disabled)[/yellow]"
        console.print(f"[bold]{row['id']}[/bold]  {row['severity']}  {escape(row['title'])}{state_note}")
        console.print(Padding(escape(row["description"]), (0, 0, 0, 4)))
        console.print(Padding(f"about: {escape(row['subject'])}", (0, 0, 0, 4)), style="dim")
        if row["tolerances"]:
            values = ", ".join(f"{k}={v}" for k, v in row["tolerances"].items())
            console.print(Padding(f"tolerances: {escape(values)}", (0, 0, 0, 4)))
        for o in row["overrides"]:
            scope = ", ".join(f"{k} {v}" for k, v in o.items() if k != "tolerances")
            values = ", ".join(f"{k}={v}" for k, v in o["tolerances"].items())
            console.print(Padding(f"for {escape(scope)}: {escape(values)}", (0, 0, 0, 4)))
        console.print()


ActorOption = typer.Option(None, "--actor", help="who acts (default: $THREADLINE_ACTOR, then the OS user)")
ExceptionIds = typer.Argument(..., help="one or more exception ids (EX-...)")


def _steward_warehouse():
    """The warehouse, refusing a schema older than the code (steward columns would be missing)."""
    from threadline.errors import FatalError
    from threadline.warehouse.db import current_revision, head_revision, is_current

    _, warehouse = _warehouse()
    if not is_current(warehouse.engine):
        raise FatalError(f"the warehouse schema is at revision {current_revision(warehouse.engine)}, this threadline "
                         f"needs {head_revision()}: run `threadline db upgrade` first")
    return warehouse


@contextmanager
def _refusals_exit_1():
    """A refused steward request (exception or link) is one message and exit code 1; nothing changed."""
    from threadline.exceptions import ExceptionActionError  # link refusals are a kind of it

    try:
        yield
    except ExceptionActionError as exc:
        err_console.print(Text("error: ", style="red") + Text(str(exc)), highlight=False)
        raise typer.Exit(1)


def _describe_exception_change(c) -> str:
    move = c.to_status if c.from_status == c.to_status else f"{c.from_status} -> {c.to_status}"
    return f"{c.exception_id}: {c.action} ({move}) by {c.actor}: {c.reason}"


def _steward_action(do, as_json: bool, describe=_describe_exception_change) -> None:
    """Run a steward action on exceptions or links; a refused one changes nothing and exits with 1."""
    with _refusals_exit_1():
        changes = do(_steward_warehouse())
    changes = changes if isinstance(changes, list) else [changes]
    if as_json:
        _print_json([c.as_dict() for c in changes])
        return
    for c in changes:
        console.print(describe(c), highlight=False)


@exceptions_app.command("list")
def exceptions_list(rule: Optional[str] = typer.Option(None, help="rule id, e.g. LNK-001"),
                    severity: Optional[str] = typer.Option(None, help="error, warning or info"),
                    status: Optional[str] = typer.Option(None, help="open, acknowledged, resolved or waived"),
                    site: Optional[str] = typer.Option(None),
                    assignee: Optional[str] = typer.Option(None, help="only exceptions assigned to this user"),
                    older_than: Optional[int] = typer.Option(None, "--older-than", min=0, metavar="DAYS",
                                                             help="first seen at least DAYS days ago"),
                    newer_than: Optional[int] = typer.Option(None, "--newer-than", min=0, metavar="DAYS",
                                                             help="first seen less than DAYS days ago"),
                    limit: int = typer.Option(200, help="rows to show (0 = all)"),
                    as_json: bool = JsonOption):
    """Exceptions with their status and assignee, by rule and id."""
    from threadline.exceptions import find_exceptions, records

    warehouse = _steward_warehouse()
    with _refusals_exit_1():
        frame = find_exceptions(warehouse, rule=rule, severity=severity, status=status, site=site, assignee=assignee,
                                older_than_days=older_than, newer_than_days=newer_than, limit=limit or None)
    if as_json:
        _print_json(records(frame))
        return
    console.print(_table(f"Exceptions ({len(frame)})", ["id", "rule", "sev", "site", "status", "assignee", "age (d)",
                                                        "summary"],
                         [[r.exception_id, r.rule_id, r.severity, r.site, r.status, r.assignee, r.age_days, r.summary]
                          for r in frame.itertuples()]))


@exceptions_app.command("show")
def exceptions_show(exception_id: str = typer.Argument(..., help="the exception id (EX-...)"),
                    as_json: bool = JsonOption):
    """One exception: what was found, its evidence and every change to it."""
    from threadline.exceptions import exception_history

    with _refusals_exit_1():
        exception, events = exception_history(_steward_warehouse(), exception_id)
    if as_json:
        _print_json({"exception": exception, "events": events})
        return
    console.print(f"[bold]{exception['exception_id']}[/bold] {exception['rule_id']} ({exception['severity']}) "
                  f"[bold]{exception['status']}[/bold]", highlight=False)
    console.print(exception["summary"], highlight=False)
    fields = ["site", "subject_entity", "subject_source_system", "subject_source_key", "wo_number", "op_seq",
              "po_number", "line_number", "assignee", "resolution", "resolution_note", "waiver_justification",
              "waiver_until", "first_seen_run", "first_seen_at", "last_seen_run", "last_seen_at", "status_changed_at"]
    console.print(_table("", ["field", "value"], [[f, exception[f]] for f in fields if exception.get(f) is not None]))
    console.print("[bold]evidence[/bold]")
    if exception["evidence"] is None:
        console.print("(none)")
    else:
        console.print_json(data=exception["evidence"])
    console.print(_table(f"History ({len(events)} events)", ["at", "actor", "action", "from", "to", "why", "run"],
                         [[e["at"], e["actor"], e["action"] or "run", e["from_status"] or "", e["to_status"],
                           e["reason"], e["run_id"]] for e in events]))


@exceptions_app.command("ack")
def exceptions_ack(exception_ids: list[str] = ExceptionIds,
                   note: Optional[str] = typer.Option(None, help="why, or what happens next"),
                   actor: Optional[str] = ActorOption, as_json: bool = JsonOption):
    """Acknowledge open exceptions: seen, and being worked on."""
    from threadline.exceptions import acknowledge

    _steward_action(lambda w: acknowledge(w, exception_ids, actor=actor, note=note), as_json)


@exceptions_app.command("assign")
def exceptions_assign(exception_ids: list[str] = ExceptionIds,
                      to: Optional[str] = typer.Option(None, "--to", help="the user who takes them"),
                      clear: bool = typer.Option(False, "--clear", help="take the assignment away"),
                      actor: Optional[str] = ActorOption, as_json: bool = JsonOption):
    """Assign exceptions to a user (or --clear the assignment); the status stays as it is."""
    from threadline.exceptions import assign

    if (to is None) == (not clear):
        raise typer.BadParameter("give either --to USER or --clear")
    _steward_action(lambda w: assign(w, exception_ids, None if clear else to, actor=actor), as_json)


@exceptions_app.command("comment")
def exceptions_comment(exception_id: str = typer.Argument(..., help="the exception id (EX-...)"),
                       text: str = typer.Argument(..., help="the comment"),
                       actor: Optional[str] = ActorOption, as_json: bool = JsonOption):
    """Add a comment to an exception's history."""
    from threadline.exceptions import comment

    _steward_action(lambda w: comment(w, exception_id, text, actor=actor), as_json)


@exceptions_app.command("resolve")
def exceptions_resolve(exception_ids: list[str] = ExceptionIds,
                       reason: str = typer.Option(..., "--reason", help="fixed_in_source, linked, duplicate or "
                                                                        "not_an_issue"),
                       note: Optional[str] = typer.Option(None, help="what was done, in words"),
                       actor: Optional[str] = ActorOption, as_json: bool = JsonOption):
    """Resolve exceptions with a reason code; a run that finds one again reopens it."""
    from threadline.exceptions import resolve

    _steward_action(lambda w: resolve(w, exception_ids, reason, note=note, actor=actor), as_json)


@exceptions_app.command("waive")
def exceptions_waive(exception_ids: list[str] = ExceptionIds,
                     justification: str = typer.Option(..., "--justification", help="why the exception is accepted"),
                     until: datetime = typer.Option(..., "--until", formats=["%Y-%m-%d"],
                                                    help="last day the waiver holds (YYYY-MM-DD, at most 365 "
                                                         "days ahead)"),
                     actor: Optional[str] = ActorOption, as_json: bool = JsonOption):
    """Waive exceptions until a date; a run reopens them when the evidence changes or the waiver expires."""
    from threadline.exceptions import waive

    _steward_action(lambda w: waive(w, exception_ids, justification=justification, until=until.date(), actor=actor),
                    as_json)


@exceptions_app.command("reopen")
def exceptions_reopen(exception_ids: list[str] = ExceptionIds,
                      reason: str = typer.Option(..., "--reason", help="why it needs looking at again"),
                      actor: Optional[str] = ActorOption, as_json: bool = JsonOption):
    """Reopen acknowledged, resolved or waived exceptions."""
    from threadline.exceptions import reopen

    _steward_action(lambda w: reopen(w, exception_ids, reason=reason, actor=actor), as_json)


LinkIds = typer.Argument(..., help="one or more link ids (LK-...)")


def _link_action(do, as_json: bool) -> None:
    """Run a link decision (see ``_steward_action``)."""
    _steward_action(do, as_json, describe=lambda c: f"{c.link_id}: {c.action} ({c.from_status} -> {c.to_status}) "
                                                    f"by {c.actor}: {c.reason}")


@links_app.command("list")
def links_list(status: Optional[str] = typer.Option(None, help="suggested, confirmed or rejected"),
               site: Optional[str] = typer.Option(None),
               wo: Optional[str] = typer.Option(None, "--wo", help="work order number"),
               po: Optional[str] = typer.Option(None, "--po", help="PO number"),
               min_score: Optional[float] = typer.Option(None, "--min-score", min=0, max=1),
               limit: int = typer.Option(200, help="rows to show (0 = all)"),
               as_json: bool = JsonOption):
    """Suggested and decided links, best score first."""
    from threadline.links import find_links, records

    with _refusals_exit_1():
        frame = find_links(_steward_warehouse(), status=status, site=site, wo_number=wo, po_number=po,
                           min_score=min_score, limit=limit or None)
    if as_json:
        _print_json(records(frame))
        return
    console.print(_table(f"Links ({len(frame)})", ["id", "status", "score", "site", "work order", "op", "PO", "line",
                                                   "by"],
                         [[r.link_id, r.status, f"{r.score:.2f}" if r.score == r.score else "", r.site, r.wo_number,
                           r.op_seq, r.po_number, r.line_number, r.asserted_by] for r in frame.itertuples()]))


@links_app.command("show")
def links_show(link_id: str = typer.Argument(..., help="the link id (LK-...)"), as_json: bool = JsonOption):
    """One link: its score, the evidence per factor and every decision on it."""
    from threadline.links import link_history

    with _refusals_exit_1():
        link, events = link_history(_steward_warehouse(), link_id)
    if as_json:
        _print_json({"link": link, "events": events})
        return
    console.print(f"[bold]{link['link_id']}[/bold] [bold]{link['status']}[/bold]", highlight=False)
    fields = ["score", "site", "wo_number", "op_seq", "po_number", "line_number", "asserted_by", "run_id"]
    console.print(_table("", ["field", "value"], [[f, link[f]] for f in fields if link.get(f) is not None]))
    console.print("[bold]evidence[/bold]")
    console.print_json(data=link.get("evidence")) if link.get("evidence") else console.print("(none)")
    console.print(_table(f"History ({len(events)} events)", ["at", "actor", "action", "from", "to", "why", "run"],
                         [[e["at"], e["actor"], e["action"], e["from_status"] or "", e["to_status"] or "",
                           e["reason"], e["run_id"]] for e in events]))


@links_app.command("confirm")
def links_confirm(link_ids: list[str] = LinkIds,
                  reason: Optional[str] = typer.Option(None, "--reason", help="why, in words"),
                  actor: Optional[str] = ActorOption, as_json: bool = JsonOption):
    """Confirm suggested links: every later run links the PO line to the work (and costs it there)."""
    from threadline.links import confirm

    _link_action(lambda w: confirm(w, link_ids, actor=actor, reason=reason), as_json)


@links_app.command("reject")
def links_reject(link_ids: list[str] = LinkIds,
                 reason: str = typer.Option(..., "--reason", help="why the link is wrong"),
                 actor: Optional[str] = ActorOption, as_json: bool = JsonOption):
    """Reject suggested links; they are suggested again only when their evidence changes."""
    from threadline.links import reject

    _link_action(lambda w: reject(w, link_ids, actor=actor, reason=reason), as_json)


@quarantine_app.command("list")
def quarantine_list(source: Optional[str] = typer.Option(None), stream: Optional[str] = typer.Option(None),
                    limit: int = typer.Option(200, help="rows to show (0 = all)"), as_json: bool = JsonOption):
    """Quarantined rows with the check and the reason."""
    from threadline.warehouse import schema

    _, warehouse = _warehouse()
    t = schema.quarantine
    where = [c for c, v in ((t.c.source == source, source), (t.c.stream == stream, stream)) if v]
    frame = warehouse.read_table(t, *where, order_by=[t.c.source, t.c.stream, t.c.source_key], limit=limit or None)
    if as_json:
        _print_json(_frame_records(frame))
        return
    console.print(_table(f"Quarantine ({len(frame)})", ["source", "stream", "key", "field", "raw", "reason", "seen"],
                         [[r.source, r.stream, r.source_key, r.field, r.raw_value, r.reason, r.times_seen]
                          for r in frame.itertuples()]))


@files_app.command("list")
def files_list(source: Optional[str] = typer.Option(None),
               status: Optional[str] = typer.Option(None, help="processed, rejected or duplicate"),
               limit: int = typer.Option(200, help="rows to show, newest first (0 = all)"), as_json: bool = JsonOption):
    """Files the inbox sources read, rejected or recognised as duplicates, with the reason."""
    from threadline.warehouse import schema

    _, warehouse = _warehouse()
    t = schema.inbox_file
    where = [c for c, v in ((t.c.source == source, source), (t.c.status == status, status)) if v]
    frame = warehouse.read_table(t, *where, order_by=[t.c.recorded_at.desc(), t.c.file_name], limit=limit or None)
    if as_json:
        _print_json(_frame_records(frame))
        return
    console.print(_table(f"Inbox files ({len(frame)})", ["source", "file", "status", "run", "at", "reason"],
                         [[r.source, r.file_name, r.status, r.run_id, r.recorded_at, r.reason or ""]
                          for r in frame.itertuples()]))


@mappings_app.command("check")
def mappings_check(files: Optional[list[Path]] = typer.Argument(
                       None, help="spec files to check (a spec being written); default: every spec the config uses"),
                   as_json: bool = JsonOption):
    """Validate mapping specs against the mapping language and the canonical model, all problems at once."""
    from mappings.spec import MappingSpecError, load_spec

    def checked(entry: dict[str, Any], path: Path) -> dict[str, Any]:
        try:
            entry["entity"] = load_spec(path).entity.name
        except (MappingSpecError, FileNotFoundError) as exc:
            entry["problems"] = getattr(exc, "problems", [str(exc)])
        return entry

    if files:
        results = [checked({"source": None, "stream": None, "spec": str(path), "problems": []}, path)
                   for path in files]
    else:
        config = _config(check_specs=False)
        results = []
        for source in config.sources:
            for stream in config.stream_settings(source):
                entry = {"source": source.name, "stream": stream.name, "spec": stream.mapping, "problems": []}
                try:
                    results.append(checked(entry, config.resolve_mapping(stream.mapping)))
                except (MappingSpecError, FileNotFoundError) as exc:
                    entry["problems"] = getattr(exc, "problems", [str(exc)])
                    results.append(entry)
    if as_json:
        _print_json(results)
    else:
        for r in results:
            mark = "[green]ok[/green]" if not r["problems"] else "[red]INVALID[/red]"
            where = f"{r['source']}.{r['stream']} -> " if r["source"] else ""
            console.print(f"{where}{r.get('entity', '?')} ({r['spec']}): {mark}")
            for p in r["problems"]:
                console.print(f"  - {p}")
    if any(r["problems"] for r in results):
        raise typer.Exit(1)


# ------------------------------------------------------------------ reports

@report_app.command("costs")
def report_costs(fmt: str = typer.Option("xlsx", "--format", help="xlsx (a sheet per grain), csv (a folder of "
                                                                  "files, one per grain) or zip (the CSV files zipped)"),
                 out: Optional[Path] = typer.Option(None, "--out", help="file (xlsx, zip) or folder (csv) to write; "
                                                                       "default: the reports folder"),
                 run_id: Optional[str] = typer.Option(None, "--run", help="the roll-up of this run (default: "
                                                                          "the current one)"),
                 drilldown: bool = typer.Option(True, "--drilldown/--no-drilldown",
                                                help="add the cost lines behind every roll-up row")):
    """Export the cost roll-up for accountants: every grain, and the drill-down to the cost lines."""
    from threadline.reports.costs import (
        export_name, read_cost_export, write_costs_csv, write_costs_xlsx, write_costs_zip,
    )

    if fmt not in ("xlsx", "csv", "zip"):
        raise typer.BadParameter(f"unknown format {fmt!r}; use xlsx, csv or zip", param_hint="--format")
    config, warehouse = _warehouse()
    export = read_cost_export(warehouse, run_id=run_id, drilldown=drilldown)
    target = out or config.reports_dir / (export_name(export) + ("" if fmt == "csv" else f".{fmt}"))
    if fmt == "csv":
        written = write_costs_csv(export, target)
        console.print(f"cost export (csv, {len(written)} files): {target}", highlight=False)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        (write_costs_xlsx if fmt == "xlsx" else write_costs_zip)(export, target)
        console.print(f"cost export ({fmt}): {target}", highlight=False)
    console.print(", ".join(f"{name} {len(frame):,}" for name, frame in export.sheets()) + " rows", highlight=False)


@report_app.command("gap")
def report_gap(period: Optional[str] = typer.Option(None, "--period", help="a month (YYYY-MM) or a year (YYYY)"),
               start: Optional[datetime] = typer.Option(None, "--from", formats=["%Y-%m-%d"],
                                                        help="first day (YYYY-MM-DD); default the first of --to's month"),
               end: Optional[datetime] = typer.Option(None, "--to", formats=["%Y-%m-%d"],
                                                      help="last day (YYYY-MM-DD); default today"),
               site: Optional[str] = typer.Option(None, "--site", help="only this site's gaps"),
               trend: int = typer.Option(6, "--trend", min=1, max=36, help="months in the trend, ending with the "
                                                                          "period's last month"),
               fmt: str = typer.Option("both", "--format", help="html, csv or both"),
               out: Optional[Path] = typer.Option(None, "--out", help="folder to write into; default: the reports "
                                                                     "folder")):
    """Gap report for auditors: the gaps standing at the period's end with evidence and history, counts and trend."""
    from threadline.reports.gap import gap_file_stem, gap_report_csv, gap_report_html, parse_period

    if fmt not in ("html", "csv", "both"):
        raise typer.BadParameter(f"unknown format {fmt!r}; use html, csv or both", param_hint="--format")
    chosen = parse_period(period, start.date() if start else None, end.date() if end else None)
    config, warehouse = _warehouse()
    folder = out or config.reports_dir
    folder.mkdir(parents=True, exist_ok=True)
    stem = gap_file_stem(chosen, site)
    if fmt in ("html", "both"):
        path = folder / f"{stem}.html"
        path.write_text(gap_report_html(warehouse, chosen, site=site, trend_periods=trend), encoding="utf-8")
        console.print(f"gap report (html): {path}", highlight=False)
    if fmt in ("csv", "both"):
        path = folder / f"{stem}.csv"
        path.write_text(gap_report_csv(warehouse, chosen, site=site), encoding="utf-8")
        console.print(f"gap report (csv): {path}", highlight=False)


def _rules_run(config) -> list[str]:
    """The rules a run of this config applies: the implemented ones it does not disable."""
    from reconciliation.catalogue import CATALOGUE

    return [r.id for r in CATALOGUE.values() if r.implemented and r.id not in config.rules.disabled]


@report_app.command("evidence")
def report_evidence(wo_number: str = typer.Argument(..., help="the work order number"),
                    site: Optional[str] = typer.Option(None, "--site", help="the site (needed when two sites use "
                                                                            "the number)"),
                    out: Optional[Path] = typer.Option(None, "--out", help="HTML file or folder to write; default: "
                                                                           "the reports folder")):
    """Evidence pack of one work order: its records from every source, costs and checks, as one HTML page."""
    from threadline.reports.evidence import write_evidence_pack

    config, warehouse = _warehouse()
    path = write_evidence_pack(warehouse, wo_number, site=site, out=out or config.reports_dir,
                               rules_run=_rules_run(config))
    console.print(f"evidence pack: {path}", highlight=False)


# ------------------------------------------------------------------ web app

PASSWORD_ENV = "THREADLINE_USER_PASSWORD"


def _new_password(name: str) -> str:
    """The password from $THREADLINE_USER_PASSWORD, else asked for twice without echo."""
    password = os.environ.get(PASSWORD_ENV)
    if password is None:
        password = typer.prompt(f"password for {name}", hide_input=True, confirmation_prompt=True)
    return password


@users_app.command("add")
def users_add(name: str = typer.Argument(..., help="the user name to sign in with"),
              role: str = typer.Option(..., "--role", help="viewer, steward, auditor or admin")):
    """Add a user of the web app; the password is asked for (or read from $THREADLINE_USER_PASSWORD)."""
    from threadline.web.users import add_user

    user = add_user(_steward_warehouse(), name, role, _new_password(name))
    console.print(f"user {user.name} added with role {user.role}", highlight=False)


@users_app.command("set")
def users_set(name: str = typer.Argument(..., help="the user name"),
              role: Optional[str] = typer.Option(None, "--role", help="a new role"),
              password: bool = typer.Option(False, "--password", help="set a new password (asked for, or "
                                                                      "$THREADLINE_USER_PASSWORD)"),
              disable: Optional[bool] = typer.Option(None, "--disable/--enable", help="stop or allow signing in")):
    """Change a user's role or password, or disable the user."""
    from threadline.web.users import set_user

    user = set_user(_steward_warehouse(), name, role=role, password=_new_password(name) if password else None,
                    disabled=disable)
    console.print(f"user {user.name}: role {user.role}" + ("" if disable is None else
                                                           f", {'disabled' if disable else 'enabled'}"), highlight=False)


@users_app.command("list")
def users_list(as_json: bool = JsonOption):
    """Users of the web app with their roles (never their password hashes)."""
    from threadline.web.users import list_users

    users = list_users(_steward_warehouse())
    if as_json:
        _print_json(users)
        return
    console.print(_table(f"Users ({len(users)})", ["user", "role", "disabled", "created", "last sign-in"],
                         [[u["user_name"], u["role"], u["disabled"], u["created_at"], u["last_login_at"]]
                          for u in users]))


@app.command()
def serve(host: str = typer.Option("127.0.0.1", help="address to listen on (0.0.0.0 in a container)"),
          port: int = typer.Option(8000, help="port to listen on"),
          demo_mode: bool = typer.Option(False, "--demo", help="without $THREADLINE_WEB_SECRET, make a secret for "
                                                               "this process only (demo and development)"),
          https_only: bool = typer.Option(False, "--https-only", help="send the session cookie over HTTPS only "
                                                                      "(behind a TLS proxy)")):
    """Start the steward web app on the config's warehouse (set $THREADLINE_WEB_SECRET first)."""
    import uvicorn

    from threadline.web.app import create_app, settings_from_env

    config = _config(check_specs=False)
    settings = settings_from_env(config.warehouse.resolved_url(), demo=demo_mode, reports_dir=config.reports_dir,
                                 https_only=https_only)
    web = create_app(settings)
    if demo_mode and not os.environ.get("THREADLINE_WEB_SECRET"):
        err_console.print("demo mode: the session secret lives only as long as this process", style="yellow")
    err_console.print(f"threadline web app on http://{host}:{port}/ (Ctrl-C stops it)")
    uvicorn.run(web, host=host, port=port, log_level="info", proxy_headers=True, server_header=False)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except EXPECTED_ERRORS as exc:
        err_console.print(Text("error: ", style="red") + Text(str(exc)), highlight=False)
        sys.exit(75 if is_transient(exc) else 2)


if __name__ == "__main__":
    main()
