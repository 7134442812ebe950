"""A real PostgreSQL server for the deploy tests, started from Debian's binaries (`make test` installs
the `postgresql` package), with its data in a temporary folder and stopped when the tests end."""

from __future__ import annotations

import glob
import os
import pwd
import re
import secrets
import shlex
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import pytest
from psycopg2 import sql

# Debian keeps each major version's server under its own folder, outside PATH.
SERVER_BINARIES = "/usr/lib/postgresql/*/bin/postgres"
SUPERUSER = "postgres"


@dataclass(frozen=True)
class PostgresServer:
    """A running server and the database and password-protected role the tests connect as."""

    host: str
    port: int
    database: str
    username: str
    password: str

    def dagster_environment(self) -> dict[str, str]:
        """The DAGSTER_PG_* variables the dagster.yaml of `capsule-xero deploy` reads."""
        return {
            "DAGSTER_PG_HOST": self.host,
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_DB": self.database,
            "DAGSTER_PG_USERNAME": self.username,
            "DAGSTER_PG_PASSWORD": self.password,
        }

    def connect(self) -> psycopg2.extensions.connection:
        """A connection over TCP with the role's password, as Dagster makes one."""
        return psycopg2.connect(
            host=self.host, port=self.port, dbname=self.database, user=self.username, password=self.password
        )


def server_bindir() -> Path:
    """The newest installed major version's binaries; fail (never skip) when there are none."""
    found = sorted(glob.glob(SERVER_BINARIES), key=lambda path: int(re.findall(r"/(\d+)/bin/", path)[0]))
    if not found:
        pytest.fail(
            f"No PostgreSQL server ({SERVER_BINARIES}): run `make test`, which installs Debian's"
            " postgresql package."
        )
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def postgres_server(database: str = "dagster", username: str = "dagster") -> Iterator[PostgresServer]:
    """initdb into a temporary folder, start the server on a free port of 127.0.0.1, create the
    database and its role, and stop the server (fast shutdown) and remove the folder afterwards."""
    bindir = server_bindir()
    folder = Path(tempfile.mkdtemp(prefix="capsule-xero-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        # PostgreSQL refuses to run as root (CI's user): run it as the user Debian's package creates,
        # owning the folder.
        owner = pwd.getpwnam(SUPERUSER)
        os.chown(folder, owner.pw_uid, owner.pw_gid)
        run_as = ["runuser", "-u", SUPERUSER, "--"]
    data, log = folder / "data", folder / "server.log"

    def run(*command: str) -> None:
        done = subprocess.run([*run_as, *command], capture_output=True, text=True, check=False)
        if done.returncode:
            server_log = log.read_text() if log.exists() else ""
            raise AssertionError(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}{server_log}")

    started = False
    try:
        # Local (socket) connections trust the superuser that sets up the role; TCP connections, the
        # ones Dagster makes, need the role's password.
        run(
            str(bindir / "initdb"),
            f"--pgdata={data}",
            f"--username={SUPERUSER}",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
        )
        port = _free_port()
        # Durability is not under test: without fsync the server and Dagster's migrations start fast.
        options = (
            f"-c listen_addresses=127.0.0.1 -p {port} -k {shlex.quote(str(folder))}"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        run(
            str(bindir / "pg_ctl"),
            "start",
            f"--pgdata={data}",
            f"--log={log}",
            "--wait",
            "--timeout=30",
            "-o",
            options,
        )
        started = True
        password = secrets.token_urlsafe(16)
        admin = psycopg2.connect(host=str(folder), port=port, dbname="postgres", user=SUPERUSER)
        admin.autocommit = True
        with admin.cursor() as cursor:
            cursor.execute(
                sql.SQL("create role {} login password %s").format(sql.Identifier(username)), (password,)
            )
            cursor.execute(
                sql.SQL("create database {} owner {}").format(
                    sql.Identifier(database), sql.Identifier(username)
                )
            )
        admin.close()
        yield PostgresServer("127.0.0.1", port, database, username, password)
    finally:
        if started:
            run(str(bindir / "pg_ctl"), "stop", f"--pgdata={data}", "--mode=fast", "--wait")
        shutil.rmtree(folder, ignore_errors=True)
