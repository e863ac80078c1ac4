"""A real PostgreSQL server for the tests: Debian's binaries, a temporary data directory, loopback only.

`scripts/install-postgres` installs the package when it is missing. As root, the server runs as the `postgres`
user the package creates (PostgreSQL refuses to run as root). ACCESSBOT_TEST_POSTGRES_URL, when set, names an
existing server (an admin URL such as postgresql+psycopg://postgres@127.0.0.1:5432/postgres) to use instead.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
ADMIN_URL_ENV = "ACCESSBOT_TEST_POSTGRES_URL"


class PostgresUnavailable(RuntimeError):
    pass


def _binaries() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        result = subprocess.run([str(ROOT / "scripts" / "install-postgres")], capture_output=True, text=True)
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if result.returncode != 0 or not found:
            raise PostgresUnavailable(
                "PostgreSQL is needed by the multi-instance tests and could not be installed:\n" + result.stderr.strip()
            )
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresServer:
    """One server for the whole test session; each test gets its own database."""

    def __init__(self) -> None:
        self.admin_url = os.environ.get(ADMIN_URL_ENV, "")
        self._data: Path | None = None
        self._bin: Path | None = None
        self._user: str | None = None

    def start(self) -> PostgresServer:
        if self.admin_url:
            return self
        self._bin = _binaries()
        self._data = Path(tempfile.mkdtemp(prefix="accessbot-pg-"))
        if os.geteuid() == 0:
            self._user = "postgres"
            account = pwd.getpwnam(self._user)
            os.chown(self._data, account.pw_uid, account.pw_gid)
        port = _free_port()
        self._run("initdb", "-D", str(self._data / "data"), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
        options = (
            f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={self._data} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
        )
        self._run("pg_ctl", "-D", str(self._data / "data"), "-o", options, "-l", str(self._data / "log"), "-w", "start")
        self.admin_url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
        return self

    def stop(self) -> None:
        if self._data is None:
            return
        self._run("pg_ctl", "-D", str(self._data / "data"), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self._data, ignore_errors=True)
        self._data = None

    def create_database(self) -> str:
        """A new, empty database; returns its URL."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        engine = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def log(self) -> str:
        return (self._data / "log").read_text() if self._data and (self._data / "log").exists() else ""

    def _run(self, program: str, *args: str, check: bool = True) -> None:
        assert self._bin is not None
        command = [str(self._bin / program), *args]
        if self._user is not None:
            command = ["runuser", "-u", self._user, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, cwd="/")
        if check and result.returncode != 0:
            raise PostgresUnavailable(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}\n{self.log()}")
