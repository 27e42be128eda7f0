#!/usr/bin/env python3
"""Start a demo deployment and stop it again.

    python -m pytest_smoke.demo.launch up --state-dir DIR [--app items|articles] [--fault NAME]
                                          [--profile-out PATH]
    python -m pytest_smoke.demo.launch down --state-dir DIR

``smoke-gate demo`` runs ``up``, the bundled suite, then ``down``; this is the launcher alone, to
keep a demo running or to start one for a run of your own. It imports the standard library and
the names in ``pytest_smoke.demo`` only (the rest when it needs it), and finds the apps next to
itself, in ``items/`` and ``articles/``.

Two apps: ``items`` (the default, examples/demo/CONTRACT.md, code in ``items/``) and ``articles``
(examples/articles/CONTRACT.md, code in ``articles/``). ``up`` finds PostgreSQL
(``SMOKE_DEMO_POSTGRES_URL``, else the local default on 127.0.0.1, else a throwaway server in DIR)
and creates a fresh database from the app's ``schema.sql``. For ``items`` it also finds Redis the
same way (``SMOKE_DEMO_REDIS_URL``), makes a test CA and a server certificate, starts the service
over HTTPS and the Azure stand-in; ``articles`` needs neither Redis nor Azure, seeds its one user
and is served over plain HTTP. Then it writes the env profile the smoke suite runs with and prints
its path. Everything it starts or creates is recorded in ``DIR/state.json`` as soon as it exists;
``down`` stops and removes exactly that. Progress goes to stderr; a failure is one line on stderr
and exit status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import glob
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import urlsplit, urlunsplit

from pytest_smoke.demo import APPS, ARTICLES_FAULTS, FAULTS

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

DEMO_DIR = Path(__file__).resolve().parent
ITEMS_DIR = DEMO_DIR / "items"
SCHEMA = ITEMS_DIR / "schema.sql"
CHECKS_FILE = ITEMS_DIR / "smoke-checks.toml"
ARTICLES_DIR = DEMO_DIR / "articles"

LOCAL_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_PG_BIN_DIRS = os.pathsep.join(
    [
        "/usr/lib/postgresql/*/bin",  # Debian, Ubuntu
        "/usr/pgsql-*/bin",  # RHEL, Fedora (PGDG)
        "/usr/local/pgsql/bin",  # built from source
        "/opt/homebrew/opt/postgresql@*/bin",  # macOS, Homebrew
        "/usr/local/opt/postgresql@*/bin",
    ]
)
PG_NOT_FOUND = (
    "PostgreSQL not found: start one and set SMOKE_DEMO_POSTGRES_URL, "
    "or install it (Debian: apt-get install postgresql)"
)
REDIS_NOT_FOUND = (
    "Redis not found: start one and set SMOKE_DEMO_REDIS_URL, "
    "or install it (Debian: apt-get install redis-server)"
)
AZURE_STANDIN_READY_TIMEOUT = 15.0
#: The stand-in's variables the profile carries; IDENTITY_* are left out: azure-identity reads
#: those from the process environment only, and the demo signs in as a service principal.
AZURE_PROFILE_KEYS = (
    "AZURE_KEYVAULT_URL",
    "AZURE_SECRET_LIST",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_AUTHORITY_HOST",
    "AZURE_METRICS_ENDPOINT",
    "AZURE_LOGS_ENDPOINT",
    "VM_RESOURCE_ID",
    "AZURE_LOG_WORKSPACE_ID",
)
APP_ROLE = "demo_app"
DEMO_USERNAME = "smoke-bot"
ARTICLES_ROLE = "articles_app"  # schema.sql's grants; each run logs in as its own member of it
DATABASE_NAME = re.compile(r"^smoke_(demo|articles)_[0-9a-f]{8}$")
HEALTH_TIMEOUT = 20.0
STOP_GRACE = 5.0
PROG = "launch.py"
#: How to run this launcher, in the messages that tell the user to.
COMMAND = "python -m pytest_smoke.demo.launch"


class LaunchError(Exception):
    """A failure explained to the user in one line (plus, at most, a log excerpt)."""


class Interrupted(BaseException):
    """A signal arrived while ``up`` was running: stop what was started, then exit."""


def say(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


# --- state.json --------------------------------------------------------------------------------


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, readable by the owner only (mode 0600)."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


class State:
    """What ``up`` started and created, saved to ``DIR/state.json`` after every change."""

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self.data = data

    @classmethod
    def load(cls, path: Path) -> State:
        return cls(path, json.loads(path.read_text(encoding="utf-8")))

    def save(self) -> None:
        write_private(self.path, json.dumps(self.data, indent=2, sort_keys=True) + "\n")

    @property
    def dir(self) -> Path:
        return self.path.parent

    def add(self, key: str, item: Any) -> None:
        self.data.setdefault(key, []).append(item)
        self.save()

    def discard(self, key: str, item: Any) -> None:
        items = self.data.get(key, [])
        if item in items:
            items.remove(item)
            self.save()


# --- processes ---------------------------------------------------------------------------------

# Popen objects of this run's children, so that the ones stopped during ``up`` get reaped.
_children: dict[int, subprocess.Popen[bytes]] = {}


def _proc_stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return text.rpartition(")")[2].split()  # fields from the 3rd (state) on


def start_time(pid: int) -> str | None:
    fields = _proc_stat(pid)
    return fields[19] if fields and len(fields) > 19 else None  # field 22: starttime


def alive(pid: int) -> bool:
    child = _children.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    fields = _proc_stat(pid)
    return not (fields and fields[0] in ("Z", "X"))  # a zombie is dead, only not reaped yet


def is_ours(record: dict[str, Any]) -> bool:
    """Is ``record``'s pid still the process we started (not a reused pid)?"""
    pid = int(record["pid"])
    if not alive(pid):
        return False
    recorded = record.get("start_time")
    current = start_time(pid)
    if recorded and current and recorded != current:
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return True  # no /proc: trust the pid and its start time
    return str(record.get("match", "")) in cmdline


def stop_process(record: dict[str, Any]) -> None:
    """SIGTERM the process (its group when it leads one), SIGKILL after ``STOP_GRACE`` s."""
    pid = int(record["pid"])
    if not is_ours(record):
        return

    def send(sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            if record.get("group"):
                os.killpg(pid, sig)
            else:
                os.kill(pid, sig)

    for sig, grace in ((signal.SIGTERM, STOP_GRACE), (signal.SIGKILL, 5.0)):
        send(sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if not alive(pid):
                return
            time.sleep(0.05)
    raise LaunchError(f"could not stop {record.get('name')} (pid {pid})")


def spawn(
    state: State, name: str, argv: list[str], *, match: str, log: Path, env: dict[str, str]
) -> subprocess.Popen[bytes]:
    """Start a child in its own session (output to ``log``) and record it at once."""
    state.add("files", str(log))
    with log.open("ab") as out:
        child = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=state.dir,
            start_new_session=True,
        )
    _children[child.pid] = child
    record = {
        "name": name,
        "pid": child.pid,
        "group": True,
        "match": match,
        "start_time": start_time(child.pid),
    }
    state.add("processes", record)
    return child


def tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(f"    {line}" for line in text.rstrip().splitlines()[-lines:])


def with_log(message: str, log: Path) -> str:
    excerpt = tail(log)
    return f"{message}; last lines of {log}:\n{excerpt}" if excerpt else f"{message} ({log})"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- URLs --------------------------------------------------------------------------------------


def mask(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{hostport}"))


def asyncpg_dsn(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if scheme.startswith(("postgresql+", "postgres+")):
        scheme = "postgresql"
    return f"{scheme}{sep}{rest}"


def with_database(url: str, database: str, *, user: str | None = None, hostport: str = "") -> str:
    """``url`` with another database (and optionally user:password and host:port)."""
    parts = urlsplit(url)
    userinfo, at, current = parts.netloc.rpartition("@")
    netloc = f"{user if user is not None else userinfo}{'@' if (user or at) else ''}"
    netloc += hostport or current
    return urlunsplit(parts._replace(netloc=netloc, path=f"/{database}"))


# --- PostgreSQL --------------------------------------------------------------------------------


async def _connect(url: str) -> Any:
    import asyncpg  # type: ignore[import-untyped]

    return await asyncpg.connect(asyncpg_dsn(url), timeout=2)


def probe_postgres(url: str) -> str | None:
    """None when ``url`` answers as a superuser, else why not."""

    async def probe() -> str | None:
        conn = await _connect(url)
        try:
            superuser = await conn.fetchval(
                "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
            )
        finally:
            await conn.close()
        return None if superuser else "the user is not a superuser"

    try:
        return asyncio.run(probe())
    except Exception as error:
        return one_line(error)


def one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text[:300]


def find_pg_bin_dir() -> Path | None:
    """A directory with initdb, pg_ctl and postgres: from PATH, else SMOKE_DEMO_PG_BIN_DIRS."""
    candidates: list[Path] = []
    for exe in ("pg_ctl", "initdb"):
        found = shutil.which(exe)
        if found:
            candidates += [Path(found).resolve().parent, Path(found).parent]
    patterns = os.environ.get("SMOKE_DEMO_PG_BIN_DIRS")
    for pattern in (DEFAULT_PG_BIN_DIRS if patterns is None else patterns).split(os.pathsep):
        if pattern.strip():
            matches = glob.glob(pattern.strip())
            candidates += [Path(m) for m in sorted(matches, key=_version_key, reverse=True)]
    for directory in candidates:
        if all(os.access(directory / exe, os.X_OK) for exe in ("initdb", "pg_ctl", "postgres")):
            return directory
    return None


def _version_key(path: str) -> list[int]:
    return [int(number) for number in re.findall(r"\d+", path)]


def as_user(user: str | None, argv: list[str]) -> list[str]:
    """``argv`` run as ``user`` (PostgreSQL refuses to run as root)."""
    if user is None:
        return argv
    runuser = shutil.which("runuser") or next(
        (p for p in ("/usr/sbin/runuser", "/sbin/runuser") if os.access(p, os.X_OK)), None
    )
    if runuser:
        return [runuser, "-u", user, "--", *argv]
    su = shutil.which("su") or next((p for p in ("/bin/su",) if os.access(p, os.X_OK)), None)
    if su:
        return [su, user, "-s", "/bin/sh", "-c", shlex.join(argv)]
    raise LaunchError(f"cannot run PostgreSQL as the {user!r} user: neither runuser nor su found")


def run(argv: list[str], cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        check=False,
    )


def pg_base_dir(state: State, user: str | None) -> Path:
    """Where the throwaway cluster lives: DIR, unless its system user cannot reach DIR."""
    import pwd

    socket_fits = len(str(state.dir / "pgrun" / ".s.PGSQL.65535")) < 100
    reachable = (
        user is None
        or run(as_user(user, ["test", "-x", str(state.dir)]), Path("/")).returncode == 0
    )
    if socket_fits and reachable:
        return state.dir
    # DIR is not reachable by the postgres user (DIR or a parent is private to root), or its path
    # is too long for a unix socket: use a private directory in the system's temporary directory.
    fallback = Path(tempfile.mkdtemp(prefix="smoke-demo-pg-"))
    state.add("dirs", str(fallback))
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(fallback, entry.pw_uid, entry.pw_gid)
    return fallback


def postgres_user() -> str | None:
    """The system user PostgreSQL runs as: None (this one) unless this one is root."""
    if os.geteuid() != 0:
        return None
    import pwd

    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise LaunchError(
            "PostgreSQL refuses to run as root and there is no 'postgres' system user: "
            "run the launcher as another user, or start PostgreSQL and set SMOKE_DEMO_POSTGRES_URL"
        ) from None
    return "postgres"


def make_pg_dirs(state: State, user: str | None) -> tuple[Path, Path, Path]:
    """The throwaway cluster's base, data and run (socket, log) directories, owned by ``user``."""
    import pwd

    base = pg_base_dir(state, user)
    pgdata, rundir = base / "pgdata", base / "pgrun"
    for directory in (pgdata, rundir):
        if str(directory) not in state.data.get("dirs", []):
            state.add("dirs", str(directory))
        directory.mkdir(mode=0o700, exist_ok=True)
        if user is not None:
            entry = pwd.getpwnam(user)
            os.chown(directory, entry.pw_uid, entry.pw_gid)
    return base, pgdata, rundir


def initdb(bin_dir: Path, user: str | None, base: Path, pgdata: Path, rundir: Path) -> None:
    argv = [str(bin_dir / "initdb"), "-D", str(pgdata), "-U", "postgres", "--auth=trust"]
    argv += ["-E", "UTF8", "--no-locale", "--no-sync"]
    done = run(as_user(user, argv), cwd=base)
    if done.returncode != 0:
        detail = (done.stderr.strip() or done.stdout.strip()).splitlines() or ["?"]
        raise LaunchError(f"initdb failed: {detail[-1]}")
    quoted_rundir = str(rundir).replace("'", "''")
    settings = [
        "listen_addresses = '127.0.0.1'",
        f"unix_socket_directories = '{quoted_rundir}'",
        "fsync = off",
        "synchronous_commit = off",
        "full_page_writes = off",
    ]
    with (pgdata / "postgresql.conf").open("a", encoding="utf-8") as conf:
        conf.write("\n# pytest_smoke.demo.launch\n" + "\n".join(settings) + "\n")


def start_throwaway_postgres(state: State) -> str:
    bin_dir = find_pg_bin_dir()
    if bin_dir is None:
        raise LaunchError(PG_NOT_FOUND)
    user = postgres_user()
    as_whom = ", as user postgres" if user else ""
    say(f"PostgreSQL: starting a throwaway server ({bin_dir}{as_whom})")
    base, pgdata, rundir = make_pg_dirs(state, user)
    record: dict[str, Any] = {"bin_dir": str(bin_dir), "pgdata": str(pgdata), "user": user}
    state.data["throwaway_postgres"] = record
    state.save()
    initdb(bin_dir, user, base, pgdata, rundir)

    log = rundir / "postgres.log"
    for attempt in range(3):
        record["port"] = port = free_port()
        state.save()
        argv = [str(bin_dir / "pg_ctl"), "-D", str(pgdata), "-l", str(log), "-o", f"-p {port}"]
        started = run(as_user(user, [*argv, "-w", "-t", "30", "-s", "start"]), cwd=base)
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int((pgdata / "postmaster.pid").read_text().splitlines()[0])
            record |= {"pid": pid, "start_time": start_time(pid)}
            state.save()
        if started.returncode == 0:
            break
        in_use = "already in use" in (log.read_text(errors="replace") if log.exists() else "")
        if not (in_use and attempt < 2):
            raise LaunchError(with_log("PostgreSQL did not start", log))
    url = f"postgresql://postgres@127.0.0.1:{record['port']}/postgres"
    problem = probe_postgres(url)
    if problem:
        raise LaunchError(with_log(f"the throwaway PostgreSQL does not answer: {problem}", log))
    say(f"PostgreSQL: throwaway server on 127.0.0.1:{record['port']}, data in {pgdata}")
    return url


def running_server(
    name: str, variable: str, local_url: str, probe: Callable[[str], str | None], throwaway: bool
) -> str | None:
    """The URL of a running server to use: the one ``variable`` names (it must answer), else the
    local default when it answers (and ``throwaway`` is not asked for); ``None``: start one."""
    url = os.environ.get(variable)
    if url:
        problem = probe(url)
        if problem:
            raise LaunchError(f"{name} at {mask(url)} ({variable}) cannot be used: {problem}")
        say(f"{name}: {mask(url)} ({variable})")
        return url
    if not throwaway and probe(local_url) is None:
        say(f"{name}: the local server, {local_url}")
        return local_url
    return None


def provide_postgres(state: State, throwaway: bool) -> str:
    return running_server(
        "PostgreSQL", "SMOKE_DEMO_POSTGRES_URL", LOCAL_POSTGRES_URL, probe_postgres, throwaway
    ) or start_throwaway_postgres(state)


def stop_throwaway_postgres(record: dict[str, Any]) -> None:
    pgdata = Path(record["pgdata"])
    if (pgdata / "postmaster.pid").exists():
        argv = [str(Path(record["bin_dir"]) / "pg_ctl"), "-D", str(pgdata), "-m", "fast"]
        stopped = run(
            as_user(record.get("user"), [*argv, "-w", "-t", "20", "-s", "stop"]), Path("/")
        )
        if stopped.returncode != 0:
            say(f"pg_ctl stop: {' '.join(stopped.stderr.split())[:200]}")
    if record.get("pid"):
        stop_process({"name": "postgres", "match": "postgres"} | record)


# --- Redis -------------------------------------------------------------------------------------


def probe_redis(url: str) -> str | None:
    """None when ``url`` answers PING, else why not."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except (redis.RedisError, OSError) as error:
        return one_line(error)
    finally:
        client.close()
    return None


def provide_redis(state: State, throwaway: bool) -> str:
    url = running_server("Redis", "SMOKE_DEMO_REDIS_URL", LOCAL_REDIS_URL, probe_redis, throwaway)
    if url:
        return url
    binary = shutil.which("redis-server")
    if binary is None:
        raise LaunchError(REDIS_NOT_FOUND)
    log = state.dir / "redis.log"
    for attempt in range(3):
        port = free_port()
        argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly"]
        argv += ["no", "--daemonize", "no", "--dir", str(state.dir)]
        child = spawn(state, "redis", argv, match="redis-server", log=log, env=dict(os.environ))
        url = f"redis://127.0.0.1:{port}/0"
        deadline = time.monotonic() + 10
        while child.poll() is None and time.monotonic() < deadline:
            if probe_redis(url) is None:
                say(f"Redis: throwaway server on 127.0.0.1:{port} (pid {child.pid})")
                return url
            time.sleep(0.05)
        in_use = "already in use" in log.read_text(errors="replace")
        if child.poll() is not None and in_use and attempt < 2:
            continue
        raise LaunchError(with_log("redis-server did not start", log))
    raise AssertionError("unreachable")


# --- the database ------------------------------------------------------------------------------


def prepare_database(
    admin_url: str,
    name: str,
    password: str,
    *,
    schema_path: Path = SCHEMA,
    role: str = APP_ROLE,
    member_of: str | None = None,
    seed: tuple[tuple[str, tuple[Any, ...]], ...] = (),
) -> None:
    """Create database ``name``, apply ``schema_path`` to it, give ``role`` ``password``.

    With ``member_of``, ``role`` is a new login role of this run, granted ``member_of`` (the
    role the schema grants to); ``seed`` statements then run as the database owner.
    """
    try:
        schema = schema_path.read_text(encoding="utf-8")
    except OSError as error:
        raise LaunchError(f"cannot read {schema_path}: {error.strerror}") from None

    async def prepare() -> None:
        admin = await _connect(admin_url)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
            # Roles are cluster-wide: parallel launches take turns creating and altering them.
            await admin.execute("SELECT pg_advisory_lock(736105119)")
            conn = await _connect(with_database(admin_url, name))
            try:
                await conn.execute(schema)
                if member_of is not None:
                    await conn.execute(f'CREATE ROLE "{role}" LOGIN IN ROLE {member_of}')
                elif not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role):
                    await conn.execute(f"CREATE ROLE {role} LOGIN")
                await conn.execute(f"ALTER ROLE \"{role}\" WITH LOGIN PASSWORD '{password}'")
                for statement, args in seed:
                    await conn.execute(statement, *args)
            finally:
                await conn.close()
        finally:
            await admin.close()  # also releases the advisory lock

    try:
        asyncio.run(prepare())
    except LaunchError:
        raise
    except Exception as error:
        raise LaunchError(f"preparing database {name} failed: {one_line(error)}") from None


def drop_database(admin_url: str, name: str, role: str | None = None) -> None:
    """Drop database ``name`` and then, if given, the login role this run made for it."""
    if not DATABASE_NAME.match(name):
        raise LaunchError(f"refusing to drop {name!r}: not a database this launcher creates")
    if role is not None and role != name:
        raise LaunchError(f"refusing to drop role {role!r}: not a role this launcher creates")

    async def drop() -> None:
        admin = await _connect(admin_url)
        try:
            if admin.get_server_version().major >= 13:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            else:
                await admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                    name,
                )
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
            if role is not None:
                await admin.execute(f'DROP ROLE IF EXISTS "{role}"')
        finally:
            await admin.close()

    try:
        asyncio.run(drop())
    except Exception as error:
        raise LaunchError(f"could not drop database {name}: {one_line(error)}") from None


# --- TLS, the service, the profile -------------------------------------------------------------


def make_certificates(state: State) -> tuple[Path, Path, Path]:
    import trustme

    ca = trustme.CA(organization_name="smoke demo test CA")
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    ca_pem, cert_pem, key_pem = (state.dir / n for n in ("ca.pem", "server.pem", "server.key"))
    for path in (ca_pem, cert_pem, key_pem):
        state.add("files", str(path))
    ca.cert_pem.write_to_path(str(ca_pem))
    write_private(key_pem, leaf.private_key_pem.bytes().decode())
    write_private(cert_pem, "".join(blob.bytes().decode() for blob in leaf.cert_chain_pems))
    return ca_pem, cert_pem, key_pem


def items_command(tls: tuple[Path, Path, Path]) -> Callable[[int], list[str]]:
    """The items app (items/app.py) over HTTPS on a given port."""
    _, cert_pem, key_pem = tls

    def command(port: int) -> list[str]:
        argv = [sys.executable, "-m", "uvicorn", "app:app", "--app-dir", str(ITEMS_DIR)]
        argv += ["--host", "127.0.0.1", "--port", str(port), "--ssl-certfile", str(cert_pem)]
        return [*argv, "--ssl-keyfile", str(key_pem), "--log-level", "warning"]

    return command


def articles_command(port: int) -> list[str]:
    """The articles app (articles/articles_api), plain HTTP, built by its factory."""
    argv = [sys.executable, "-m", "uvicorn", "articles_api.main:create_app", "--factory"]
    argv += ["--app-dir", str(ARTICLES_DIR), "--host", "127.0.0.1", "--port", str(port)]
    return [*argv, "--log-level", "warning"]


def start_service(
    state: State,
    env: dict[str, str],
    command: Callable[[int], list[str]],
    health: str,
    *,
    verify: ssl.SSLContext | bool,
    any_answer: bool,
) -> int:
    """Start the app (``command(port)``) and wait until ``health`` (an URL template with
    ``{port}``) answers 200, or anything at all with ``any_answer``; returns the port."""
    import httpx

    log = state.dir / "app.log"
    for attempt in range(3):
        port = free_port()
        child = spawn(state, "app", command(port), match="uvicorn", log=log, env=env)
        state.data["app_port"] = port
        state.save()
        url = health.format(port=port)
        last = "no answer"
        deadline = time.monotonic() + HEALTH_TIMEOUT
        with httpx.Client(verify=verify, timeout=2) as client:
            while child.poll() is None and time.monotonic() < deadline:
                try:
                    response = client.get(url)
                except httpx.HTTPError as error:
                    last = one_line(error)
                else:
                    if response.status_code == 200 or any_answer:
                        say(f"service: {url} answers {response.status_code} (pid {child.pid})")
                        return port
                    last = f"{response.status_code} {' '.join(response.text.split())[:200]}"
                time.sleep(0.1)
        if child.poll() is not None:
            if "address already in use" in tail(log).lower() and attempt < 2:
                continue
            raise LaunchError(with_log(f"the service exited with status {child.returncode}", log))
        raise LaunchError(
            with_log(
                f"the service's {urlsplit(url).path} did not answer 200 within "
                f"{HEALTH_TIMEOUT:.0f} s "
                f"(last: {last})",
                log,
            )
        )
    raise AssertionError("unreachable")


def start_azure_standin(
    state: State, tls: tuple[Path, Path, Path], fault: str | None
) -> dict[str, str]:
    """Start the Azure stand-in over HTTPS; return the profile variables pointing at it."""
    _, cert_pem, key_pem = tls
    info = state.dir / "azure.json"
    state.add("files", str(info))
    argv = [sys.executable, str(ITEMS_DIR / "azure_standin.py"), "--port", "0"]
    argv += ["--cert", str(cert_pem), "--key", str(key_pem)]
    argv += ["--data", str(ITEMS_DIR / "azure-data.json"), "--state-file", str(info)]
    if fault and fault.startswith("azure-"):
        argv += ["--fault", fault.removeprefix("azure-")]
    env = {key: value for key, value in os.environ.items() if not key.startswith("AZURE_")}
    env["AZURE_STANDIN_CLIENT_SECRET"] = secrets.token_urlsafe(24)  # not the seed's, per run
    log = state.dir / "azure.log"
    child = spawn(state, "azure-standin", argv, match="azure_standin", log=log, env=env)
    deadline = time.monotonic() + AZURE_STANDIN_READY_TIMEOUT
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise LaunchError(with_log(f"the Azure stand-in exited ({child.returncode})", log))
        if info.exists():
            values: dict[str, str] = json.loads(info.read_text())["env"]
            say(f"Azure stand-in: {values['AZURE_KEYVAULT_URL']} (pid {child.pid})")
            return {key: values[key] for key in AZURE_PROFILE_KEYS if key in values}
        time.sleep(0.05)
    raise LaunchError(with_log("the Azure stand-in did not start within 15 s", log))


def dotenv_value(value: str) -> str:
    if re.fullmatch(r"[\w@%+=:,./~?&-]*", value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def write_profile(state: State, path: Path, values: dict[str, str]) -> None:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    lines = [
        f"# The demo deployment's env profile, written by {COMMAND} at {when}.",
        "# It holds passwords (mode 0600) and is valid until the demo is stopped with:",
        f"#   {COMMAND} down --state-dir {state.dir}",
        f"# Run the smoke suite with it:  smoke-gate run --env-file {path}",
        "",
    ]
    lines += [f"{key}={dotenv_value(value)}" for key, value in values.items()]
    if str(path) not in state.data.get("files", []):
        state.add("files", str(path))
    write_private(path, "\n".join(lines) + "\n")


# --- up / down ---------------------------------------------------------------------------------


def database_down_hostport(fault: str | None) -> str:
    """For the database-down fault: a host:port nothing listens on, else ""."""
    if fault != "database-down":
        return ""
    hostport = f"127.0.0.1:{free_port()}"
    say(f"fault database-down: the database URL points at {hostport}, a closed port")
    return hostport


def start_items(state: State, fault: str | None, throwaway: bool) -> dict[str, str]:
    """The items demo (examples/demo/CONTRACT.md): PostgreSQL, Redis, HTTPS, the Azure stand-in."""
    admin_url = provide_postgres(state, throwaway)
    redis_url = provide_redis(state, throwaway)

    name = f"smoke_demo_{secrets.token_hex(4)}"
    password = secrets.token_hex(16)
    state.data["database"] = {"name": name, "admin_url": admin_url}
    state.save()
    prepare_database(admin_url, name, password)
    say(f"database: {name}, role {APP_ROLE} with a new password")
    database_url = with_database(
        admin_url, name, user=f"{APP_ROLE}:{password}", hostport=database_down_hostport(fault)
    )

    tls = make_certificates(state)
    run_id = secrets.token_hex(4)
    channel = f"demo:items:{run_id}"
    app_password = secrets.token_hex(12)
    env = {key: value for key, value in os.environ.items() if not key.startswith("DEMO_")}
    env |= {
        "DEMO_DATABASE_URL": database_url,
        "DEMO_REDIS_URL": redis_url,
        "DEMO_JWT_SECRET": secrets.token_urlsafe(32),
        "DEMO_USERNAME": DEMO_USERNAME,
        "DEMO_PASSWORD": app_password,
        "DEMO_EVENT_CHANNEL": channel,
        # Not in the contract, read by app.py: keeps parallel demos' rate limits apart.
        "DEMO_RATE_LIMIT_PREFIX": f"demo:ratelimit:{run_id}",
        "PYTHONUNBUFFERED": "1",
    }
    if fault and fault != "database-down" and not fault.startswith("azure-"):
        env["DEMO_FAULT"] = fault
    if "DEMO_SLOW_SECONDS" in os.environ:  # tests shorten the "slow" fault's delay
        env["DEMO_SLOW_SECONDS"] = os.environ["DEMO_SLOW_SECONDS"]
    port = start_service(
        state,
        env,
        items_command(tls),
        "https://127.0.0.1:{port}/health",
        verify=ssl.create_default_context(cafile=str(tls[0])),
        any_answer=fault in ("database-down", "health-503"),
    )
    azure = start_azure_standin(state, tls, fault)

    gateway = f"https://127.0.0.1:{port}"
    return {
        "SMOKE_TEST_DATABASE_URL": database_url,
        "SMOKE_TEST_REDIS_URL": redis_url,
        "GATEWAY_URL": gateway,
        "SMOKE_TEST_CA_BUNDLE": str(tls[0]),
        "SMOKE_TEST_LOGIN_URL": f"{gateway}/auth/login",
        "SMOKE_TEST_USERNAME": DEMO_USERNAME,
        "SMOKE_TEST_PASSWORD": app_password,
        "SMOKE_TEST_CHECKS_FILE": str(CHECKS_FILE),
        "DEMO_EVENT_CHANNEL": channel,
        **azure,
    }


def load_password_hasher() -> Callable[[str], str]:
    """The articles app's own ``hash_password``, so the stored format has one implementation."""
    import importlib.util

    path = ARTICLES_DIR / "articles_api" / "passwords.py"
    spec = importlib.util.spec_from_file_location("_articles_passwords", path)
    if spec is None or spec.loader is None or not path.is_file():
        raise LaunchError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    hasher: Callable[[str], str] = module.hash_password
    return hasher


def start_articles(state: State, fault: str | None, throwaway: bool) -> dict[str, str]:
    """The articles app (examples/articles/CONTRACT.md): PostgreSQL only, plain HTTP, one user.

    Its login is in its checks file, so the profile has no login URL; no Redis, no Azure.
    """
    admin_url = provide_postgres(state, throwaway)
    name = f"smoke_articles_{secrets.token_hex(4)}"
    password = secrets.token_hex(16)
    # The login role is this run's own (named like its database), a member of articles_app:
    # parallel runs never change each other's password.
    state.data["database"] = {"name": name, "admin_url": admin_url, "role": name}
    state.save()
    user_password = secrets.token_hex(12)
    seed = (
        (
            "INSERT INTO users (username, password_hash) VALUES ($1, $2)",
            (DEMO_USERNAME, load_password_hasher()(user_password)),
        ),
    )
    prepare_database(
        admin_url,
        name,
        password,
        schema_path=ARTICLES_DIR / "schema.sql",
        role=name,
        member_of=ARTICLES_ROLE,
        seed=seed,
    )
    say(f"database: {name}, role {name} (in {ARTICLES_ROLE}), user {DEMO_USERNAME}")
    database_url = with_database(
        admin_url, name, user=f"{name}:{password}", hostport=database_down_hostport(fault)
    )
    prefixes = ("ARTICLES_", "DEMO_")
    env = {key: value for key, value in os.environ.items() if not key.startswith(prefixes)}
    env |= {
        "ARTICLES_DATABASE_URL": database_url,
        "ARTICLES_SECRET_KEY": secrets.token_urlsafe(32),
        "PYTHONUNBUFFERED": "1",
    }
    if fault and fault != "database-down":
        env["ARTICLES_FAULT"] = fault
    port = start_service(
        state,
        env,
        articles_command,
        "http://127.0.0.1:{port}/api/healthz",
        verify=False,
        any_answer=fault == "database-down",
    )
    return {
        "GATEWAY_URL": f"http://127.0.0.1:{port}",
        "SMOKE_TEST_DATABASE_URL": database_url,
        "SMOKE_TEST_USERNAME": DEMO_USERNAME,
        "SMOKE_TEST_PASSWORD": user_password,
        "SMOKE_TEST_CHECKS_FILE": str(ARTICLES_DIR / "smoke-checks.toml"),
    }


def up(
    state_dir: Path,
    fault: str | None,
    profile_out: Path | None,
    throwaway: bool,
    app: str = "items",
    *,
    stop_hint: bool = True,
) -> Path:
    began = time.monotonic()
    state_path = state_dir / "state.json"
    if state_path.exists():
        raise LaunchError(
            f"{state_dir} already holds a demo (state.json): stop it first with "
            f"'{COMMAND} down --state-dir {state_dir}'"
        )
    profile = (profile_out or state_dir / ".env.demo").absolute()
    created = not state_dir.exists()
    try:
        state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        profile.parent.mkdir(parents=True, exist_ok=True)
    except OSError as failure:
        raise LaunchError(f"cannot create {failure.filename}: {failure.strerror}") from None
    state = State(
        state_path,
        {
            "app": app,
            "created_dir": created,
            "fault": fault,
            "files": [],
            "dirs": [],
            "processes": [],
        },
    )
    state.save()
    try:
        start = start_articles if app == "articles" else start_items
        write_profile(state, profile, start(state, fault, throwaway))
        state.data["profile"] = str(profile)
        state.save()
    except BaseException:
        with ignoring_signals():
            errors = teardown(state)
        for error in errors:
            say(f"while stopping: {error}")
        raise
    elapsed = time.monotonic() - began
    hint = f"; stop it with: {COMMAND} down --state-dir {state_dir}" if stop_hint else ""
    say(f"up in {elapsed:.1f} s{hint}")
    return profile


def remove_tree(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def teardown(state: State) -> list[str]:
    """Stop and remove what ``state`` records; returns the problems (what is left is kept)."""
    errors: list[str] = []

    def attempt(action: Callable[..., object], *args: Any) -> bool:
        try:
            action(*args)
        except LaunchError as error:
            errors.append(str(error))
            return False
        except (OSError, subprocess.SubprocessError) as error:
            errors.append(one_line(error))
            return False
        return True

    # The service first (it holds database connections), then the database, then the servers.
    apps = [p for p in state.data.get("processes", []) if p.get("name") == "app"]
    others = [p for p in state.data.get("processes", []) if p.get("name") != "app"]
    for record in apps:
        if attempt(stop_process, record):
            state.discard("processes", record)
    database = state.data.get("database")
    postgres = state.data.get("throwaway_postgres")
    # A throwaway cluster goes away as a whole, its databases with it.
    if database and (
        postgres
        or attempt(drop_database, database["admin_url"], database["name"], database.get("role"))
    ):
        del state.data["database"]
        state.save()
    for record in others:
        if attempt(stop_process, record):
            state.discard("processes", record)
    if postgres and attempt(stop_throwaway_postgres, postgres):
        del state.data["throwaway_postgres"]
        state.save()
    if not state.data.get("throwaway_postgres"):
        for directory in sorted(state.data.get("dirs", []), key=len, reverse=True):
            if attempt(remove_tree, Path(directory)):
                state.discard("dirs", directory)
    for file in list(state.data.get("files", [])):
        if attempt(Path(file).unlink, True):
            state.discard("files", file)
    if not errors:
        state.path.unlink(missing_ok=True)
        if state.data.get("created_dir"):
            with contextlib.suppress(OSError):
                state.dir.rmdir()  # only when empty
    return errors


def down(state_dir: Path) -> None:
    began = time.monotonic()
    state_path = state_dir / "state.json"
    if not state_path.exists():
        say(f"nothing to stop: {state_path} does not exist")
        return
    try:
        state = State.load(state_path)
    except (OSError, ValueError) as error:
        raise LaunchError(f"cannot read {state_path}: {one_line(error)}") from None
    errors = teardown(state)
    if errors:
        raise LaunchError(
            f"{errors[0]} ({len(errors)} problem(s); what is left stays recorded in {state_path}, "
            "run down again)"
        )
    say(f"down in {time.monotonic() - began:.1f} s")


@contextlib.contextmanager
def ignoring_signals() -> Iterator[None]:
    signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _interrupt(signum: int, _frame: object) -> NoReturn:
    raise Interrupted(signal.Signals(signum).name)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Start or stop a demo deployment: the items app or the articles app.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("up", help="start the demo; prints the path of its env profile")
    start.add_argument("--state-dir", required=True, type=Path, help="where the demo's state lives")
    start.add_argument(
        "--app", choices=APPS, default="items", help="which app to start (default: items)"
    )
    start.add_argument(
        "--fault",
        choices=FAULTS,
        help=f"start the demo with one fault (articles: {', '.join(ARTICLES_FAULTS)})",
    )
    start.add_argument("--profile-out", type=Path, help="the profile's path (DIR/.env.demo)")
    # Tests: start throwaway servers even when the local default ones answer.
    start.add_argument("--throwaway", action="store_true", help=argparse.SUPPRESS)
    # smoke-gate demo: it stops the demo itself, so "stop it with" would mislead its user.
    start.add_argument("--stopped-by-caller", action="store_true", help=argparse.SUPPRESS)
    stop = commands.add_parser("down", help="stop what 'up' started and remove its data")
    stop.add_argument("--state-dir", required=True, type=Path, help="the directory given to up")
    args = parser.parse_args(argv)
    articles = args.command == "up" and args.app == "articles"
    if articles and args.fault and args.fault not in ARTICLES_FAULTS:
        start.error(
            f"argument --fault: {args.fault!r} is not a fault of the articles app "
            f"(choose from {', '.join(ARTICLES_FAULTS)})"
        )
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    state_dir = Path(args.state_dir).absolute()
    try:
        if args.command == "up":
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                signal.signal(sig, _interrupt)
            profile = up(
                state_dir,
                args.fault,
                args.profile_out,
                args.throwaway,
                args.app,
                stop_hint=not args.stopped_by_caller,
            )
            print(profile, flush=True)
        else:
            down(state_dir)
    except LaunchError as error:
        say(str(error))
        return 1
    except Interrupted as signal_name:
        say(f"interrupted by {signal_name}; stopped what was started")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
