"""The inbox lifecycle shared by file sources (``files``: CSV and XLSX, ``b2mml``: MES XML).

A file source is a folder other systems drop exports into. It is a stream of deliveries, not a
snapshot of the source: each file is loaded once, then moved out of the way. The lifecycle of one
run of an inbox source, and who does what:

1. **open** (pipeline -> connector): before any stream reads, the pipeline calls
   :meth:`InboxConnector.open_inbox` with the files the ledger (``tl_inbox_file``) already holds as
   processed (sha256 -> file name and run) and, per stream, the source columns its mapping spec
   reads. The connector takes a snapshot of the folder, hashes every file and judges each one:

   - *duplicate*: its content (sha256) was processed before, or is the same as an earlier file of
     this snapshot; it is not read again;
   - *rejected*: it cannot be read whole (undecodable bytes, a header column a stream needs is
     missing, not a workbook, malformed XML, another B2MML version, invalid against the XSD, no
     stream reads it); no row of it is loaded, ever;
   - *accepted*: every stream that reads it will read it whole.

   Judging parses the file; the parsed form is cached on the connector (keyed by path, mtime and
   size), so every stream of the run reads the same parse instead of parsing the file again.
2. **read** (pipeline -> connector, per stream): :meth:`files_to_read` gives a stream the accepted
   files of the snapshot it reads, in name order. A file dropped while the run is going waits for
   the next run. Within a run the bookmark argument is ignored: what is still in the inbox is what
   has not been processed, whatever its name (a stream restarted after a transient fault re-reads
   the snapshot and the upsert absorbs the rows read twice). Outside a pipeline run (no
   :meth:`open_inbox`), the connector reads the folder as it is, ``>=`` the bookmark, and raises on
   the first bad file.
3. **settle** (pipeline, after every stream of the source is done): the connector reports each
   file and its verdict (:meth:`inbox_report`); the pipeline writes the ledger rows and only then
   calls :meth:`settle_file` to move the files: accepted files go to ``processed/`` only when no
   stream of the source failed (otherwise they stay in the inbox and the next run reads them again;
   nothing goes in the ledger for them), rejected ones to ``rejected/`` next to
   ``<name>.reason.txt`` saying what is wrong and how to fix it, duplicates to ``duplicate/``. The
   ledger row is written before the move: a move that fails leaves a file the ledger knows, which
   the next run recognises as a duplicate instead of loading it twice.

The connector writes no warehouse state: the ledger is the pipeline's; the connector only moves
files inside its own folder when told to.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import shutil
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import Field

from connectors.base import Connector, ConnectorError, StreamSettings, StrictModel

#: where settled files go, below the inbox folder
PROCESSED, REJECTED, DUPLICATE = "processed", "rejected", "duplicate"
#: ledger statuses, by where the file went
FOLDER_OF_STATUS = {"processed": PROCESSED, "rejected": REJECTED, "duplicate": DUPLICATE}
REASON_SUFFIX = ".reason.txt"


class ProcessedFile(NamedTuple):
    """A file the ledger holds as processed: its name then and the run that loaded it."""

    file_name: str
    run_id: str


class InboxFileError(Exception):
    """A file that cannot be loaded whole: what is wrong, where (line when known) and how to fix it."""

    def __init__(self, file_name: str, problem: str, fix: str, *, line: int | None = None):
        self.file_name, self.problem, self.fix, self.line = file_name, problem, fix, line
        where = f"file {file_name}" + (f", line {line}" if line is not None else "")
        super().__init__(f"{where}: {problem}; {fix}")


@dataclass
class InboxFile:
    """One file of an inbox snapshot and the verdict on it."""

    name: str
    path: Path
    size: int
    mtime_ns: int
    sha256: str
    #: accepted (streams read it), rejected or duplicate
    status: str = "accepted"
    reason: str | None = None
    error: InboxFileError | None = None
    #: the streams that read it (accepted files only)
    streams: tuple[str, ...] = field(default_factory=tuple)


class InboxSettings(StrictModel):
    """Connection settings every inbox source has."""

    path: str = Field(description="folder the exports are dropped into; processed/, rejected/ and duplicate/ "
                                  "are made below it")
    pattern: str = Field(default="*", description="which files of the folder belong to this source (glob)")
    cache_mb: int = Field(default=512, ge=0, description="parsed files kept in memory for the run's other "
                                                         "streams; files beyond it are parsed again per stream")


def sha256_of(path: Path) -> str:
    """The sha256 of a file's bytes, read in chunks."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _is_inbox_file(path: Path) -> bool:
    # hidden files, Office lock files (~$Book.xlsx) and reason files are never deliveries
    name = path.name
    return path.is_file() and not name.startswith((".", "~$")) and not name.endswith(REASON_SUFFIX)


class InboxConnector(Connector):
    """A connector over an inbox folder; subclasses parse and check files (see the module docstring)."""

    settings_model = InboxSettings
    #: a read sees the deliveries not processed yet, never all the source holds: no soft deletes
    snapshot_reads = False

    def __init__(self, source_name: str, connection: Mapping[str, Any]):
        super().__init__(source_name, connection)
        self._snapshot: list[InboxFile] | None = None
        self._cache: dict[tuple, Any] = {}
        self._cached_bytes = 0
        self.parses = 0  # files parsed (cache misses), for tests and timings

    # --------------------------------------------------------------- subclass hooks
    def stream_reads(self, stream: StreamSettings, file_name: str) -> bool:
        """Whether ``stream`` reads the file called ``file_name`` (every stream reads every file by default)."""
        return True

    def check_file(self, path: Path, streams: Sequence[tuple[StreamSettings, Collection[str]]]) -> None:
        """Raise :class:`InboxFileError` if a stream of ``streams`` (with the columns it needs) cannot read
        ``path`` whole; subclasses parse the file here through :meth:`cached`."""

    # --------------------------------------------------------------- the folder
    def folder(self) -> Path:
        """The inbox folder; an error naming the setting when it does not exist."""
        folder = Path(self.settings.path)
        if not folder.is_dir():
            raise ConnectorError(f"{self.where()}: the inbox folder {folder} does not exist; check connection.path")
        return folder

    def check(self) -> list[str]:
        """The inbox folder must exist and be writable (files move out of it once loaded)."""
        folder = Path(self.settings.path)
        if not folder.is_dir():
            return [f"{self.where()}: the inbox folder {folder} does not exist; check connection.path"]
        if not os.access(folder, os.W_OK | os.X_OK):
            return [f"{self.where()}: the inbox folder {folder} is not writable, so loaded files cannot move to "
                    f"{PROCESSED}/; give the threadline user write access to it"]
        return []

    def _listing(self) -> list[Path]:
        return sorted(p for p in self.folder().glob(self.settings.pattern) if _is_inbox_file(p))

    def cached(self, path: Path, part: str, build: Callable[[Path], Any],
               size: Callable[[Any], int] | None = None) -> Any:
        """``build(path)``, computed once per file version (path, mtime, size) and ``part`` (a sheet).

        What is kept counts against ``cache_mb``: the file's size, or ``size(value)`` when given (what
        the value holds in memory); a value that does not fit is built again when asked for again.
        """
        stat = path.stat()
        key = (str(path), stat.st_mtime_ns, stat.st_size, part)
        if key in self._cache:
            return self._cache[key]
        self.parses += 1
        value = build(path)
        held = stat.st_size if size is None else size(value)
        if self._cached_bytes + held <= self.settings.cache_mb * 1024 * 1024:
            self._cache[key] = value
            self._cached_bytes += held
        return value

    # --------------------------------------------------------------- lifecycle
    def open_inbox(self, streams: Sequence[StreamSettings], needs: Mapping[str, Collection[str]],
                   processed: Mapping[str, ProcessedFile]) -> list[InboxFile]:
        """Snapshot the inbox and judge every file (see the module docstring); returns the snapshot."""
        snapshot: list[InboxFile] = []
        first_of: dict[str, InboxFile] = {}
        for path in self._listing():
            stat = path.stat()
            file = InboxFile(path.name, path, stat.st_size, stat.st_mtime_ns, sha256_of(path))
            snapshot.append(file)
            earlier = processed.get(file.sha256)
            if earlier is not None:
                file.status = "duplicate"
                file.reason = (f"same content (sha256 {file.sha256[:12]}...) as {earlier.file_name}, "
                               f"processed by run {earlier.run_id}; not loaded again")
                continue
            if file.sha256 in first_of:
                file.status = "duplicate"
                file.reason = (f"same content (sha256 {file.sha256[:12]}...) as {first_of[file.sha256].name} "
                               f"in the same delivery; loaded once")
                continue
            first_of[file.sha256] = file
            readers = [s for s in streams if self.stream_reads(s, file.name)]
            try:
                if not readers:
                    raise InboxFileError(file.name, "no stream of this source reads it (no stream pattern matches "
                                                    "its name)",
                                         "rename it to match a stream's pattern, or add a stream for it")
                self.check_file(path, [(s, needs.get(s.name, ())) for s in readers])
            except InboxFileError as exc:
                file.status, file.reason, file.error = "rejected", str(exc), exc
                continue
            file.streams = tuple(s.name for s in readers)
        self._snapshot = snapshot
        return snapshot

    def files_to_read(self, stream: StreamSettings, start_file: str | None = None) -> list[Path]:
        """The files ``stream`` reads, in name order: the accepted files of the open inbox snapshot, or,
        outside a pipeline run, the folder's files from ``start_file`` (the bookmark) on."""
        if self._snapshot is not None:
            return [f.path for f in self._snapshot if f.status == "accepted" and stream.name in f.streams]
        return [p for p in self._listing()
                if self.stream_reads(stream, p.name) and (start_file is None or p.name >= start_file)]

    @property
    def inbox_is_open(self) -> bool:
        """Whether :meth:`open_inbox` took this run's snapshot."""
        return self._snapshot is not None

    def inbox_report(self) -> list[InboxFile]:
        """The files of the open snapshot with their verdicts (empty when no inbox was opened)."""
        return list(self._snapshot or [])

    def settle_file(self, file: InboxFile, status: str, *, run_id: str, reason_text: str | None = None) -> Path:
        """Move ``file`` to the folder of ``status`` (processed, rejected, duplicate); a rejected file gets
        ``<name>.reason.txt`` beside it. A name already taken there gets the run id added."""
        target_dir = Path(self.settings.path) / FOLDER_OF_STATUS[status]
        target_dir.mkdir(exist_ok=True)
        target = target_dir / file.name
        if target.exists():
            target = target_dir / f"{Path(file.name).stem}.{run_id}{Path(file.name).suffix}"
        shutil.move(str(file.path), str(target))
        if reason_text is not None:
            (target_dir / (target.name + REASON_SUFFIX)).write_text(reason_text, encoding="utf-8")
        return target

    def reason_text(self, file: InboxFile, *, run_id: str, at: str) -> str:
        """The text of ``<name>.reason.txt``: file, line, what is wrong, how to fix it."""
        error = file.error
        lines = [f"file: {file.name}", f"source: {self.source_name}", f"sha256: {file.sha256}",
                 f"rejected: {at} by run {run_id}"]
        if error is not None:
            if error.line is not None:
                lines.append(f"line: {error.line}")
            lines += [f"problem: {error.problem}", f"how to fix: {error.fix}"]
        else:
            lines.append(f"problem: {file.reason}")
        lines.append("Nothing of this file was loaded. Put a corrected file into the inbox to load it.")
        return "\n".join(lines) + "\n"


def matches(pattern: str, file_name: str) -> bool:
    """Whether ``file_name`` matches the glob ``pattern`` (case-sensitive, as on the server's disk)."""
    return fnmatch.fnmatchcase(file_name, pattern)
