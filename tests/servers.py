"""Real database servers for the tests.

PostgreSQL and MariaDB come from the environment (``THREADLINE_TEST_PG_URL``,
``THREADLINE_TEST_MARIADB_URL``), else from the server running on loopback, else a throwaway
server is initialized in a temporary folder and started on a free loopback port. Tests never skip
for want of a server: if none can be had, they fail and say why.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import closing
from http.server import ThreadingHTTPServer
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

PG_DEFAULT = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
MARIADB_DEFAULT = "mysql+pymysql://root@127.0.0.1:3306/"


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def _as_user(user: str, args: list[str], **kw) -> subprocess.CompletedProcess:
    """Run a server binary as ``user`` when we are root (PostgreSQL refuses to run as root)."""
    if os.geteuid() == 0 and user != "root":
        args = ["runuser", "-u", user, "--", *args]
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw)


class Throwaway:
    """A server process this test session started; stopped and deleted at the end."""

    def __init__(self, process: subprocess.Popen | None, folder: str, stop: list[str] | None = None,
                 user: str = "root"):
        self.process, self.folder, self.stop_command, self.user = process, folder, stop, user

    def stop(self) -> None:
        if self.stop_command:
            subprocess.run(["runuser", "-u", self.user, "--", *self.stop_command] if os.geteuid() == 0
                           and self.user != "root" else self.stop_command, capture_output=True)
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
        shutil.rmtree(self.folder, ignore_errors=True)


def start_throwaway_postgres() -> tuple[str, Throwaway]:
    binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not binaries:
        raise RuntimeError("no PostgreSQL server reachable and no PostgreSQL binaries to start one; "
                           "run .ci/run (it installs postgresql) or set THREADLINE_TEST_PG_URL")
    bin_dir = Path(binaries[-1]).parent
    folder = tempfile.mkdtemp(prefix="threadline-pg-")
    user = "postgres" if os.geteuid() == 0 else os.environ.get("USER", "postgres")
    if os.geteuid() == 0:
        shutil.chown(folder, user=user)
    data = f"{folder}/data"
    _as_user(user, [str(bin_dir / "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8"])
    port = free_port()
    _as_user(user, [str(bin_dir / "pg_ctl"), "-D", data, "-l", f"{folder}/log", "-w", "-o",
                    f"-p {port} -k {folder} -c listen_addresses=127.0.0.1", "start"])
    return (f"postgresql+psycopg2://postgres@127.0.0.1:{port}/postgres",
            Throwaway(None, folder, [str(bin_dir / "pg_ctl"), "-D", data, "-m", "fast", "stop"], user))


def start_throwaway_mariadb() -> tuple[str, Throwaway]:
    if not shutil.which("mariadbd") and not os.path.exists("/usr/sbin/mariadbd"):
        raise RuntimeError("no MariaDB server reachable and no mariadbd to start one; "
                           "run .ci/run (it installs mariadb-server) or set THREADLINE_TEST_MARIADB_URL")
    folder = tempfile.mkdtemp(prefix="threadline-mariadb-")
    subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={folder}/data", "--auth-root-authentication-method=normal",
                    "--user=root" if os.geteuid() == 0 else f"--user={os.environ.get('USER')}"],
                   check=True, capture_output=True)
    port = free_port()
    process = subprocess.Popen(["/usr/sbin/mariadbd", "--no-defaults", f"--datadir={folder}/data", f"--port={port}",
                                "--bind-address=127.0.0.1", f"--socket={folder}/sock",
                                *(["--user=root"] if os.geteuid() == 0 else [])],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(150):
        if _reachable("127.0.0.1", port):
            return f"mysql+pymysql://root@127.0.0.1:{port}/", Throwaway(process, folder)
        time.sleep(0.2)
    Throwaway(process, folder).stop()
    raise RuntimeError(f"the throwaway MariaDB server did not listen on 127.0.0.1:{port} within 30 s")


def postgres_server() -> tuple[str, Throwaway | None]:
    """A PostgreSQL server URL (admin database) and the throwaway to stop, if one was started."""
    url = os.environ.get("THREADLINE_TEST_PG_URL", PG_DEFAULT)
    parsed = make_url(url)
    if _reachable(parsed.host or "127.0.0.1", parsed.port or 5432):
        return url, None
    return start_throwaway_postgres()


def mariadb_server() -> tuple[str, Throwaway | None]:
    url = os.environ.get("THREADLINE_TEST_MARIADB_URL", MARIADB_DEFAULT)
    parsed = make_url(url)
    if _reachable(parsed.host or "127.0.0.1", parsed.port or 3306):
        return url, None
    return start_throwaway_mariadb()


class ScratchDatabase:
    """A database created for one test and dropped after it."""

    def __init__(self, server_url: str):
        self.server_url = make_url(server_url)
        self.name = "threadline_test_" + uuid.uuid4().hex[:10]
        admin = create_engine(self.server_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {self.name}"))
        admin.dispose()
        self.url = self.server_url.set(database=self.name)

    def drop(self) -> None:
        admin = create_engine(self.server_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            if self.server_url.get_backend_name() == "postgresql":
                conn.execute(text(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)"))
            else:
                conn.execute(text(f"DROP DATABASE IF EXISTS {self.name}"))
        admin.dispose()


class LoopbackHTTPServer(ThreadingHTTPServer):
    """An HTTP server the tests run in a daemon thread for the length of a ``with`` block."""

    daemon_threads = True
    _thread: threading.Thread | None = None

    def __enter__(self):
        self._thread = threading.Thread(target=self.serve_forever, name=type(self).__name__, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)


def run_and_dispose(admin, *statements: str) -> None:
    """Run ``statements`` on an admin engine, then dispose of it (scratch databases' clean-up)."""
    with admin.connect() as conn:
        for statement in statements:
            conn.execute(text(statement))
    admin.dispose()


def mariadb_reader_database(admin, name: str) -> tuple[str, str, Callable[[], None]]:
    """A scratch MariaDB database ``name`` and a read-only user of the same name with a fresh password.

    Returns the user, the password and the clean-up that drops both; a source reads the password
    from the environment, as in production.
    """
    user, password = name, "Pw-" + uuid.uuid4().hex
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
        conn.execute(text(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'"))
        conn.execute(text(f"GRANT SELECT ON {name}.* TO '{user}'@'%'"))
    return user, password, lambda: run_and_dispose(admin, f"DROP DATABASE IF EXISTS {name}",
                                                   f"DROP USER IF EXISTS '{user}'@'%'")
