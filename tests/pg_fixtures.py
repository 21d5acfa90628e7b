"""A real PostgreSQL server for the tests (Debian's package), started once per session in a temporary directory."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

from tests.missing import missing

PG_USER = "postgres"
DATABASE = "ioc_test"


@dataclass(frozen=True)
class PostgresServer:
    """A running server reached over a unix socket in ``socket_dir``."""

    socket_dir: str
    port: int
    database: str = DATABASE
    user: str = PG_USER

    def url(self, database: str | None = None) -> str:
        """A SQLAlchemy URL (psycopg 3 driver)."""
        return f"postgresql+psycopg://{self.user}@/{database or self.database}?host={self.socket_dir}&port={self.port}"


@dataclass(frozen=True)
class PostgresSchema:
    """A fresh schema of the test database, dropped after the test."""

    server: PostgresServer
    name: str

    @property
    def url(self) -> str:
        return self.server.url()


def find_pg_bin() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin (Debian's layout), else the directory of initdb on PATH."""
    root = Path("/usr/lib/postgresql")
    versions = sorted(
        (path for path in root.glob("*/bin") if (path / "initdb").is_file() and path.parent.name.isdigit()),
        key=lambda path: int(path.parent.name),
    )
    if versions:
        return versions[-1]
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).parent
    return None


def _missing(reason: str) -> NoReturn:
    missing(f"the PostgreSQL tests: {reason}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_server_user(command: list[str]) -> list[str]:
    # initdb refuses to run as root; root runs the server as the postgres account the package created.
    if os.geteuid() != 0:
        return command
    runuser = shutil.which("runuser")
    if runuser is None:
        raise RuntimeError("running as root without runuser: cannot start PostgreSQL as the postgres user")
    return [runuser, "-u", PG_USER, "--", *command]


def _run(command: list[str], log_file: Path) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        log_text = log_file.read_text(errors="replace")[-2000:] if log_file.exists() else ""
        raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}): {result.stderr.strip()}\n{log_text}")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """Start PostgreSQL on a free port (unix socket only), create the test database, stop it at the end."""
    bin_dir = find_pg_bin()
    if bin_dir is None:
        _missing("PostgreSQL is not installed: apt-get install postgresql (scripts/test.sh does this)")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _missing("the psycopg driver is not installed: pip install -r requirements.txt")
    if os.geteuid() == 0:
        try:
            account = pwd.getpwnam(PG_USER)
        except KeyError:
            _missing(f"running as root but there is no '{PG_USER}' account to run PostgreSQL as")
    # Not under pytest's tmp_path: that tree is private to root, and the server runs as postgres.
    base = Path(tempfile.mkdtemp(prefix="ioc-pg-"))
    data_dir = base / "data"
    data_dir.mkdir()
    log_file = base / "server.log"
    log_file.touch()
    if os.geteuid() == 0:
        for path in (base, data_dir, log_file):
            os.chown(path, account.pw_uid, account.pw_gid)
    port = _free_port()
    started = False
    try:
        _run(
            _as_server_user(
                [str(bin_dir / "initdb"), "-D", str(data_dir), "-U", PG_USER, "--auth=trust", "-E", "UTF8", "--no-locale"]
            ),
            log_file,
        )
        options = f"-p {port} -k {base} -c listen_addresses='' -c fsync=off -c full_page_writes=off -c synchronous_commit=off"
        _run(
            _as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-l", str(log_file), "-o", options, "-w", "start"]),
            log_file,
        )
        started = True
        server = PostgresServer(str(base), port)
        _admin(server, f"CREATE DATABASE {DATABASE}")
        yield server
    finally:
        if started:
            with contextlib.suppress(Exception):
                _run(_as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-m", "fast", "-w", "stop"]), log_file)
        shutil.rmtree(base, ignore_errors=True)


def _admin(server: PostgresServer, sql: str) -> None:
    import psycopg

    with psycopg.connect(host=server.socket_dir, port=server.port, user=server.user, dbname="postgres", autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[call-overload]


@pytest.fixture
def postgres_schema(postgres_server: PostgresServer) -> Iterator[PostgresSchema]:
    """A new, empty schema in the test database for one test."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    connect = {"host": postgres_server.socket_dir, "port": postgres_server.port, "user": postgres_server.user}
    with psycopg.connect(dbname=postgres_server.database, autocommit=True, **connect) as conn:  # type: ignore[arg-type]
        conn.execute(f"CREATE SCHEMA {name}")  # type: ignore[call-overload]
    yield PostgresSchema(postgres_server, name)
    with psycopg.connect(dbname=postgres_server.database, autocommit=True, **connect) as conn:  # type: ignore[arg-type]
        conn.execute(f"DROP SCHEMA {name} CASCADE")  # type: ignore[call-overload]


# -- a database shaped like a one-stop dossier system ------------------------------------------------

ONESTOP_DDL = """
CREATE TABLE {schema}.ho_so (
    ma_ho_so TEXT PRIMARY KEY,
    ma_don_vi TEXT NOT NULL,
    ma_thu_tuc TEXT,
    kenh_thuc_hien SMALLINT,              -- 1 in person, 2 online, 3 postal
    trang_thai SMALLINT NOT NULL,         -- status codes 1-10
    ngay_tiep_nhan TIMESTAMP NOT NULL,    -- local time without offset, as many one-stop databases keep it
    ngay_hen_tra TIMESTAMP,
    ngay_tra_ket_qua TIMESTAMP,
    chu_ho_so TEXT,                       -- personal: the connector never reads these three
    so_dien_thoai TEXT,
    so_cccd TEXT,
    ngay_cap_nhat TIMESTAMP NOT NULL
);
CREATE TABLE {schema}.ho_so_lich_su (
    id BIGSERIAL PRIMARY KEY,
    ma_ho_so TEXT NOT NULL,
    trang_thai SMALLINT NOT NULL,
    thoi_diem TIMESTAMP NOT NULL
);
"""


class OneStopDatabase:
    """Writes dossiers and their status history into a one-stop-shaped schema, as the one-stop system would."""

    def __init__(self, schema: PostgresSchema) -> None:
        import psycopg

        server = schema.server
        self.schema = schema
        self.conn = psycopg.connect(
            host=server.socket_dir, port=server.port, user=server.user, dbname=server.database, autocommit=True
        )
        self.conn.execute(ONESTOP_DDL.format(schema=schema.name))  # type: ignore[call-overload]

    def close(self) -> None:
        self.conn.close()

    def add_dossier(
        self,
        dossier_id: str,
        *,
        received: str,
        updated: str | None = None,
        status: int = 2,
        unit: str = "20194",
        procedure: str | None = None,
        channel: int | None = 2,
        due: str | None = None,
        returned: str | None = None,
        history: list[tuple[int, str]] | None = None,
    ) -> None:
        """A dossier row with personal columns filled, and its history (default: one entry at receipt)."""
        self.conn.execute(
            f"""INSERT INTO {self.schema.name}.ho_so (ma_ho_so, ma_don_vi, ma_thu_tuc, kenh_thuc_hien, trang_thai,
                ngay_tiep_nhan, ngay_hen_tra, ngay_tra_ket_qua, chu_ho_so, so_dien_thoai, so_cccd, ngay_cap_nhat)
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 'Nguyễn Văn Bình', '0905123456', '048123456789', %s)""",  # type: ignore[arg-type]
            [dossier_id, unit, procedure, channel, status, received, due, returned, updated or received],
        )
        for entry_status, at in history if history is not None else [(status, received)]:
            self.add_history(dossier_id, entry_status, at)

    def add_history(self, dossier_id: str, status: int, at: str) -> None:
        self.conn.execute(
            f"INSERT INTO {self.schema.name}.ho_so_lich_su (ma_ho_so, trang_thai, thoi_diem) VALUES (%s, %s, %s)",  # type: ignore[arg-type]
            [dossier_id, status, at],
        )

    def transition(self, dossier_id: str, status: int, at: str, *, returned: str | None = None) -> None:
        """A status change: a history row, and the dossier row's status and change time (in one transaction)."""
        with self.conn.transaction():
            self.add_history(dossier_id, status, at)
            self.conn.execute(
                f"""UPDATE {self.schema.name}.ho_so SET trang_thai = %s, ngay_cap_nhat = %s,
                    ngay_tra_ket_qua = coalesce(%s, ngay_tra_ket_qua) WHERE ma_ho_so = %s""",  # type: ignore[arg-type]
                [status, at, returned, dossier_id],
            )


@pytest.fixture
def onestop(postgres_schema: PostgresSchema) -> Iterator[OneStopDatabase]:
    """An empty one-stop-shaped database (schema of its own) on the session's PostgreSQL."""
    source = OneStopDatabase(postgres_schema)
    yield source
    source.close()
