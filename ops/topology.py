"""The production topology of docker-compose.yml, on loopback: gunicorn, Celery workers and one beat.

    python -m ops.topology [--web-workers 4] [--celery-workers 2] [--port 8100] [--no-seed]

Starts, on 127.0.0.1 only and with compose's settings (DEBUG off, the same gunicorn command line, the app connecting
as its own role under row-level security): `migrate` (as the owner), `collectstatic`, optionally `seed_demo
--if-empty`, then gunicorn with N workers, K Celery worker processes and exactly one beat. PostgreSQL and Redis are
DATABASE_URL/REDIS_URL when set, else the embedded servers of roi/devstack.py (this checkout's var/), with a database
of their own (`openroi_ops`) and Redis database 2, so a `make run` beside it neither shares its data nor takes its
jobs. Plain http on loopback: SECURE_SSL_REDIRECT and SECURE_COOKIES are off, ALLOWED_HOSTS is 127.0.0.1.
Each process logs to var/ops/<role>-<index>.log. Ctrl-C or SIGTERM stops everything; so does the death of this
process (each child gets SIGTERM from the kernel when its launcher dies, PR_SET_PDEATHSIG).

Celery workers run with `--concurrency 1`, as K separate processes (`-n w<k>@%h`): on two cores more pool processes
only queue for the CPU, and one task per process makes a fault exact (killing worker k kills the one task it holds).
Scale-out is more worker processes, as compose's `--scale worker=3`.

Python API, for the load test (ops/load.py) and the fault scenarios (ops/faults.py):

    from ops.topology import Topology

    with Topology(web_workers=4, celery_workers=2, port=8100) as topo:  # start() ... stop()
        topo.wait_healthy(timeout=60)        # polls /healthz/ until 200; returns its JSON
        topo.base_url                        # "http://127.0.0.1:8100"
        topo.env                             # the environment the processes got (DATABASE_URL, REDIS_URL, ...)
        topo.pids()                          # {"web": [master], "worker": [...], "beat": [...]}
        topo.pids(children=True)             # the same with every descendant (gunicorn workers, pool processes)
        topo.kill("worker", 0, signal.SIGKILL)   # the whole process group for SIGKILL (a crash), else the process
        topo.restart("worker", 0)            # SIGTERM (then SIGKILL after a grace time), then the same command
        topo.add("beat")                     # one more process of a role (a second beat started by mistake)
        topo.restart_redis(down_seconds=5)   # embedded servers only; ExternalServer for DATABASE_URL/REDIS_URL
        topo.restart_postgres(down_seconds=5)

Standard library only (and roi.devstack): this runs before the environment Django's settings need exists.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from roi.devstack import (
    ROOT,
    VAR,
    DevstackError,
    EmbeddedPostgres,
    EmbeddedValkey,
    Stack,
    app_database_url,
    port_is_free,
    say,
    tail,
)

LOG_DIR = VAR / "ops"
OPS_DATABASE = "openroi_ops"
ROLES = ("web", "worker", "beat")
# Compose's access log format: the path only, never the query string (patient searches carry PHI).
ACCESS_LOG_FORMAT = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'
PR_SET_PDEATHSIG = 1


class TopologyError(DevstackError):
    """A failure with a message the operator can act on."""


class ExternalServer(TopologyError):
    """The server is DATABASE_URL's or REDIS_URL's: not ours to restart."""


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the launcher dies, however it dies (no orphans after a SIGKILL)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    stack = [pid]
    while stack:
        for child in sorted(children.get(stack.pop(), [])):
            found.append(child)
            stack.append(child)
    return found


class Process:
    """One process of the topology, in its own session, logging to var/ops/<role>-<index>.log."""

    def __init__(self, role: str, index: int, argv: list[str], env: dict[str, str]) -> None:
        self.role = role
        self.index = index
        self.argv = argv
        self.env = env
        self.log = LOG_DIR / f"{role}-{index}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_offset = 0

    @property
    def name(self) -> str:
        return f"{self.role}-{self.index}"

    def start(self) -> None:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            log.write(f"\n--- topology: start {self.name} ({time.strftime('%Y-%m-%d %H:%M:%S')})\n".encode())
            log.flush()
            self.log_offset = log.tell()
            self.proc = subprocess.Popen(
                self.argv,
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: a signal for it never reaches us, and vice versa
                preexec_fn=_die_with_parent,  # only a prctl, and we start children from one thread
            )

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int, *, group: bool = False) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if group:
                os.killpg(self.proc.pid, sig)
            elif self.proc.poll() is None:
                os.kill(self.proc.pid, sig)

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM (gunicorn and Celery shut down warm), SIGKILL to the whole group after `timeout`, then reap."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                say(f"{self.name} did not stop within {timeout:.0f} s; killing it", prefix="ops")
        # Whatever it left in its group (gunicorn workers, pool processes of a killed Celery main process).
        self.signal(signal.SIGKILL, group=True)
        self.proc.wait()

    def new_output(self) -> str:
        try:
            with open(self.log, "rb") as log:
                log.seek(self.log_offset)
                return log.read().decode(errors="replace")
        except OSError:
            return ""


class Topology:
    """gunicorn + Celery workers + one beat over PostgreSQL and Redis, as in docker-compose.yml, on 127.0.0.1.

    `extra_env` is added to the processes' environment last (e.g. EMAIL_BACKEND, MEDIA_ROOT for a fault scenario).
    `database` names the database created on the embedded PostgreSQL (ignored when DATABASE_URL is set)."""

    def __init__(
        self,
        *,
        web_workers: int = 4,
        celery_workers: int = 2,
        concurrency: int = 1,
        port: int = 8100,
        beats: int = 1,
        seed: bool = True,
        seed_scale: float = 1.0,
        database: str = OPS_DATABASE,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.web_workers = web_workers
        self.celery_workers = celery_workers
        self.concurrency = concurrency
        self.port = port
        self.beats = beats
        self.seed = seed
        self.seed_scale = seed_scale
        self.database = database
        self.extra_env = dict(extra_env or {})
        self.stack = Stack("ops")
        self.processes: dict[str, list[Process]] = {role: [] for role in ROLES}
        self.env: dict[str, str] = {}
        self.started = False
        self._lock = threading.Lock()
        self._previous_sigterm: Any = None

    # --- life cycle ------------------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def postgres(self) -> EmbeddedPostgres | None:
        return next((s for s in self.stack.servers if isinstance(s, EmbeddedPostgres)), None)

    @property
    def valkey(self) -> EmbeddedValkey | None:
        return next((s for s in self.stack.servers if isinstance(s, EmbeddedValkey)), None)

    def __enter__(self) -> Topology:
        self.start()
        return self

    def __exit__(self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]) -> None:
        self.stop()

    def start(self) -> None:
        if self.started:
            return
        if not port_is_free(self.port):
            raise TopologyError(f"port {self.port} on 127.0.0.1 is in use; choose another (--port)")
        self._catch_sigterm()
        self.started = True
        try:
            self.stack.up()
            self.env = self._environment()
            self._step("migrate", "migrate", "--noinput")
            self._step("collectstatic", "collectstatic", "--noinput", "-v", "0")
            if self.seed:
                self._step("seed", "seed_demo", "--if-empty", "--scale", str(self.seed_scale))
            self.add("web")
            for _ in range(self.celery_workers):
                self.add("worker")
            for _ in range(self.beats):
                self.add("beat")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Beat first (no new jobs), then web and workers (warm: a worker finishes its task), then the servers."""
        if not self.started:
            return
        # A second Ctrl-C or SIGTERM while stopping must not leave half of it running.
        previous: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
        with self._lock:
            for role in ("beat", "web", "worker"):
                for process in self.processes[role]:
                    process.stop()
            self.stack.down()
            self.started = False
        if self._previous_sigterm is not None:
            previous[signal.SIGTERM] = self._previous_sigterm
            self._previous_sigterm = None
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    def _catch_sigterm(self) -> None:
        """SIGTERM becomes KeyboardInterrupt, so `with Topology()` cleans up on it as on Ctrl-C."""
        if threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            self._previous_sigterm = signal.SIG_DFL

            def interrupt(_signum: int, _frame: object) -> None:
                raise KeyboardInterrupt

            signal.signal(signal.SIGTERM, interrupt)

    def _environment(self) -> dict[str, str]:
        env = dict(self.stack.env)
        if self.postgres is not None:
            owner = self._ops_database(env["DATABASE_OWNER_URL"])
            env["DATABASE_OWNER_URL"] = owner
            env["DATABASE_URL"] = app_database_url(owner)
        env.update(
            {
                "DEBUG": "false",
                "ALLOWED_HOSTS": "127.0.0.1,localhost",
                "SECURE_SSL_REDIRECT": "false",
                "SECURE_COOKIES": "false",
                "SITE_URL": self.base_url,
                "STATIC_ROOT": str(VAR / "staticfiles"),
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.extra_env)
        return env

    def _ops_database(self, owner_url: str) -> str:
        """The embedded server's URL for our own database, created when missing."""
        parts = urlsplit(owner_url)
        assert self.postgres is not None
        psql = [str(self.postgres.bin / "psql"), "-h", "127.0.0.1", "-p", str(parts.port), "-U", parts.username or ""]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        found = subprocess.run(
            [*psql, "-d", "postgres", "-tAc", f"SELECT 1 FROM pg_database WHERE datname = '{self.database}'"],
            check=False,
            capture_output=True,
            text=True,
            env=env,
        )
        if found.stdout.strip() != "1":
            created = subprocess.run(
                [*psql, "-d", "postgres", "-c", f'CREATE DATABASE "{self.database}"'],
                check=False,
                capture_output=True,
                text=True,
                env=env,
            )
            if created.returncode != 0 and "already exists" not in created.stderr:
                raise TopologyError(f"cannot create database {self.database}: {created.stderr.strip()}")
        return urlunsplit(parts._replace(path=f"/{self.database}"))

    def _step(self, name: str, *args: str) -> None:
        say(f"{name}: manage.py {' '.join(args)}", prefix="ops")
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        log_path = LOG_DIR / f"{name}.log"
        with open(log_path, "wb") as log:
            result = subprocess.run(
                [sys.executable, str(ROOT / "manage.py"), *args],
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                check=False,
            )
        if result.returncode != 0:
            raise TopologyError(f"manage.py {' '.join(args)} failed; last lines of {log_path}:\n{tail(log_path)}")

    # --- processes -------------------------------------------------------------------------------------------------

    def _argv(self, role: str, index: int) -> list[str]:
        if role == "web":
            return [
                sys.executable,
                "-m",
                "gunicorn",
                "roi.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(self.web_workers),
                "--worker-tmp-dir",
                "/dev/shm",
                "--timeout",
                "60",
                "--access-logfile",
                "-",
                "--access-logformat",
                ACCESS_LOG_FORMAT,
            ]
        if role == "worker":
            return [
                *(sys.executable, "-m", "celery", "-A", "roi", "worker", "-l", "info"),
                *("--concurrency", str(self.concurrency), "-n", f"w{index}@%h"),
            ]
        if role == "beat":
            schedule = LOG_DIR / f"celerybeat-schedule-{index}"
            return [sys.executable, "-m", "celery", "-A", "roi", "beat", "-l", "info", "--schedule", str(schedule)]
        raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")

    def add(self, role: str) -> int:
        """Start one more process of `role` (a second web server would need another port: one web only) and
        return its index."""
        if role == "web" and self.processes["web"]:
            raise TopologyError("one gunicorn per topology; give it more --web-workers instead")
        index = len(self.processes[role])
        process = Process(role, index, self._argv(role, index), self.env)
        process.start()
        self.processes[role].append(process)
        say(f"{process.name}: started, pid {process.pid}, log {process.log.relative_to(ROOT)}", prefix="ops")
        return index

    def remove(self, role: str, index: int) -> None:
        """Stop the last process of `role` that `add` started and forget it (a second beat, once the drill is over),
        so that nothing restarts it."""
        if index != len(self.processes[role]) - 1 or index == 0:
            raise TopologyError(f"only an added {role} process can be removed, the last one first")
        process = self.processes[role].pop()
        process.stop()
        say(f"{process.name}: stopped and removed", prefix="ops")

    def process(self, role: str, index: int = 0) -> Process:
        try:
            return self.processes[role][index]
        except (KeyError, IndexError):
            raise TopologyError(f"no {role} process {index}") from None

    def pids(self, *, children: bool = False) -> dict[str, list[int]]:
        """Live pids by role: the processes we started, and with `children` their descendants too (gunicorn's
        workers, Celery's pool processes), e.g. to sample CPU and memory of everything a role runs."""
        result: dict[str, list[int]] = {}
        for role, processes in self.processes.items():
            pids: list[int] = []
            for process in processes:
                if process.alive() and process.pid is not None:
                    pids.append(process.pid)
                    if children:
                        pids.extend(_descendants(process.pid))
            result[role] = pids
        return result

    def kill(self, role: str, index: int = 0, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to a process. SIGKILL goes to its whole process group, as when a container or a host dies:
        a Celery main process killed alone would leave its pool process running the task."""
        process = self.process(role, index)
        process.signal(sig, group=sig == signal.SIGKILL)
        if sig == signal.SIGKILL and process.proc is not None:
            process.proc.wait()

    def restart(self, role: str, index: int = 0, *, timeout: float = 20.0) -> None:
        """Stop the process (warm, SIGKILL after `timeout`; an already dead one is only reaped) and start the same
        command again, appending to the same log."""
        process = self.process(role, index)
        process.stop(timeout=timeout)
        process.start()
        say(f"{process.name}: restarted, pid {process.pid}", prefix="ops")

    def dead(self) -> list[str]:
        return [p.name for processes in self.processes.values() for p in processes if not p.alive()]

    # --- health ----------------------------------------------------------------------------------------------------

    def health(self, timeout: float = 5.0) -> tuple[int, dict[str, Any]]:
        """GET /healthz/: (status, JSON); (0, {"error": ...}) when nothing answers."""
        request = urllib.request.Request(f"{self.base_url}/healthz/", headers={"Host": "127.0.0.1"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            with contextlib.suppress(ValueError):
                return error.code, json.loads(error.read() or b"{}")
            return error.code, {}
        except (OSError, ValueError) as error:
            return 0, {"error": str(error)}

    def wait_healthy(self, timeout: float = 60.0, *, workers: bool = True) -> dict[str, Any]:
        """Poll /healthz/ until it answers 200 and (with `workers`) every Celery worker has logged that it is
        ready; return the health JSON. Raises TopologyError with the last answer and the dead processes' logs."""
        deadline = time.monotonic() + timeout
        status, body = 0, {}
        while time.monotonic() < deadline:
            gone = self.dead()
            if gone:
                logs = "\n".join(f"--- {n}:\n{tail(self.process(*self._split(n)).log, 15)}" for n in gone)
                raise TopologyError(f"{', '.join(gone)} exited:\n{logs}")
            status, body = self.health()
            ready = all(" ready." in p.new_output() for p in self.processes["worker"]) if workers else True
            if status == 200 and ready:
                return body
            time.sleep(0.5)
        raise TopologyError(f"not healthy after {timeout:.0f} s: /healthz/ answered {status} {body}")

    @staticmethod
    def _split(name: str) -> tuple[str, int]:
        role, _, index = name.rpartition("-")
        return role, int(index)

    # --- the servers -----------------------------------------------------------------------------------------------

    def restart_redis(self, down_seconds: float = 0.0) -> float:
        """Stop the embedded Valkey (SIGTERM: it saves its data, queued jobs included), stay down `down_seconds`,
        start it on the same port. Returns the seconds it was down."""
        return self._restart(self.valkey, down_seconds, "REDIS_URL is set: that Redis is not ours to restart")

    def restart_postgres(self, down_seconds: float = 0.0) -> float:
        """Stop the embedded PostgreSQL (pg_ctl -m fast: open connections are cut), stay down `down_seconds`,
        start it again. Returns the seconds it was down."""
        return self._restart(self.postgres, down_seconds, "DATABASE_URL is set: that PostgreSQL is not ours to restart")

    @staticmethod
    def _restart(server: Any, down_seconds: float, external: str) -> float:
        if server is None:
            raise ExternalServer(f"{external} (embedded servers only)")
        began = time.monotonic()
        server.stop()
        time.sleep(down_seconds)
        server.start()
        return time.monotonic() - began


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.topology", description=__doc__.split("\n\n")[0])
    parser.add_argument("--web-workers", type=int, default=4, help="gunicorn workers (default 4, as compose)")
    parser.add_argument("--celery-workers", type=int, default=2, help="Celery worker processes (default 2)")
    parser.add_argument("--concurrency", type=int, default=1, help="pool processes per Celery worker (default 1)")
    parser.add_argument("--port", type=int, default=8100, help="gunicorn's port on 127.0.0.1 (default 8100)")
    parser.add_argument("--no-seed", action="store_true", help="skip seed_demo --if-empty")
    parser.add_argument("--seed-scale", type=float, default=1.0, help="seed_demo --scale (default 1)")
    args = parser.parse_args(argv)
    topology = Topology(
        web_workers=args.web_workers,
        celery_workers=args.celery_workers,
        concurrency=args.concurrency,
        port=args.port,
        seed=not args.no_seed,
        seed_scale=args.seed_scale,
    )
    try:
        with topology:
            health = topology.wait_healthy(timeout=120)
            say(f"healthy at {topology.base_url}/ : {json.dumps(health)}", prefix="ops")
            say(f"pids: {json.dumps(topology.pids())}; logs in {LOG_DIR.relative_to(ROOT)}/", prefix="ops")
            for key in ("DATABASE_URL", "REDIS_URL"):
                say(f"{key}={topology.env[key]}", prefix="ops")
            say("Ctrl-C stops everything", prefix="ops")
            while True:
                gone = topology.dead()
                if gone:
                    say(f"{', '.join(gone)} exited unexpectedly; stopping everything", prefix="ops")
                    return 1
                time.sleep(1)
    except KeyboardInterrupt:
        say("stopping", prefix="ops")
        return 0
    except DevstackError as error:
        say(f"error: {error}", prefix="ops")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
