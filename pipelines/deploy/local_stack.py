"""The distributed topology on one machine, without Docker: what ``make stack-up`` starts.

The same services as ``docker/docker-compose.yaml``, as plain processes on 127.0.0.1:

- PostgreSQL (Debian's ``postgresql``): databases ``airflow`` (metadata + Celery results),
  ``mlflow`` (tracking + registry) and ``predictions`` (the serving prediction log);
- Redis (Debian's ``redis-server``): the Celery broker;
- Airflow with the CeleryExecutor: api-server, scheduler, dag-processor, one Celery worker
  (and optionally the triggerer);
- the MLflow tracking server on PostgreSQL, proxying artifacts to a local folder;
- the serving API (``engageflow serve``) where this checkout has it.

Missing OS packages are installed with apt-get. Each service runs in its own process group
and is recorded in ``<home>/stack.json`` as soon as it starts, so :func:`stop_stack` stops
everything that was started, also after a failed start. Logs go to ``<home>/logs/``.

Usage: ``python -m pipelines.deploy.local_stack up|down|status [--home DIR]``.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

from pipelines.deploy.os_packages import ensure_debian_packages, postgres_bindir
from pipelines.paths import project_paths

logger = logging.getLogger(__name__)

BIN = Path(sys.executable).parent
DATABASES = ("airflow", "mlflow", "predictions")
DB_USER = "engageflow"
STATE_FILE = "stack.json"


class StackError(RuntimeError):
    """A service of the local stack failed to start or to become healthy."""


@dataclass(frozen=True)
class Ports:
    """TCP ports on 127.0.0.1; 0 picks a free one."""

    postgres: int = 5433
    redis: int = 6380
    airflow: int = 8080
    mlflow: int = 5000
    serving: int = 8000
    worker_logs: int = 0
    trigger_logs: int = 0

    def resolved(self) -> Ports:
        return Ports(**{k: v or free_port() for k, v in asdict(self).items()})


@dataclass
class Stack:
    """A running (or partly started) stack: what :func:`stop_stack` needs to stop it."""

    home: Path
    ports: Ports
    urls: dict[str, str] = field(default_factory=dict)
    services: list[dict] = field(default_factory=list)   # name, pid, stop_signal, log
    admin_password: str = ""
    env: dict[str, str] = field(default_factory=dict)     # the Airflow/MLflow client env

    def save(self) -> None:
        data = {"home": str(self.home), "ports": asdict(self.ports), "urls": self.urls,
                "services": self.services, "admin_password": self.admin_password,
                "env": self.env}
        path = self.home / STATE_FILE
        path.write_text(json.dumps(data, indent=2))
        path.chmod(0o600)

    @classmethod
    def load(cls, home: Path) -> Stack | None:
        path = home / STATE_FILE
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        return cls(home=Path(data["home"]), ports=Ports(**data["ports"]), urls=data["urls"],
                   services=data["services"], admin_password=data["admin_password"],
                   env=data["env"])


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _secrets(home: Path) -> dict[str, str]:
    """Generated once per stack home (mode 0600): never in code, params or images."""
    path = home / "secrets.json"
    if path.exists():
        return json.loads(path.read_text())
    values = {
        "db_password": secrets.token_urlsafe(18),
        "admin_password": secrets.token_urlsafe(12),
        "jwt_secret": secrets.token_urlsafe(32),
        "api_secret_key": secrets.token_urlsafe(32),
        "fernet_key": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
    }
    path.write_text(json.dumps(values))
    path.chmod(0o600)
    return values


def _log_tail(log: Path, lines: int = 40) -> str:
    if not log.exists():
        return "(no log)"
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def _start(stack: Stack, name: str, args: list[str], env: dict[str, str], *,
           stop_signal: int = signal.SIGTERM, user: str | None = None,
           cwd: Path | None = None) -> subprocess.Popen:
    """Start one service in its own process group and record it before anything else."""
    log = stack.home / "logs" / f"{name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env,
                                cwd=cwd or stack.home, start_new_session=True,
                                stdin=subprocess.DEVNULL,
                                user=user, group=pwd.getpwnam(user).pw_gid if user else None,
                                extra_groups=[] if user else None)
    stack.services.append({"name": name, "pid": proc.pid, "stop_signal": int(stop_signal),
                           "log": str(log)})
    stack.save()
    logger.info("started %s (pid %d), log %s", name, proc.pid, log)
    return proc


def _wait(name: str, proc: subprocess.Popen, ready: Callable[[], bool], log: Path,
          timeout: float) -> None:
    """Wait until ``ready()``; fail early, with the log tail, if the process exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StackError(f"local_stack: {name} exited with code {proc.returncode} before "
                             f"it was ready; last lines of {log}:\n{_log_tail(log)}")
        try:
            if ready():
                return
        except (OSError, httpx.HTTPError):
            pass
        time.sleep(1)
    raise StackError(f"local_stack: {name} was not ready after {timeout:.0f} s; last lines "
                     f"of {log}:\n{_log_tail(log)}")


def _http_ok(url: str) -> Callable[[], bool]:
    return lambda: httpx.get(url, timeout=3).status_code == 200


def _run(args: list[str], env: dict[str, str], what: str, log: Path,
         user: str | None = None, timeout: float = 600, cwd: Path | None = None) -> None:
    with open(log, "ab") as out:
        done = subprocess.run(args, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=cwd,
                              timeout=timeout, user=user, stdin=subprocess.DEVNULL,
                              group=pwd.getpwnam(user).pw_gid if user else None,
                              extra_groups=[] if user else None)
    if done.returncode != 0:
        raise StackError(f"local_stack: {what} (`{' '.join(args)}`) exited with "
                         f"{done.returncode}; last lines of {log}:\n{_log_tail(log)}")


def _reachable_by(path: Path, user: str) -> bool:
    """Whether ``user`` (not the owner) can traverse every parent of ``path``."""
    return all(os.stat(p).st_mode & 0o001 for p in [*path.parents][::-1] if p.exists())


def start_postgres(stack: Stack, password: str) -> str:
    """initdb (once) and start PostgreSQL; create the three databases.

    Returns:
        The SQLAlchemy URL prefix ``postgresql+psycopg2://user:password@127.0.0.1:port``.
    """
    bindir = postgres_bindir()
    if bindir is None:
        raise StackError("local_stack: no PostgreSQL binaries (initdb) found after install")
    user = None
    pgdir = stack.home / "postgres"
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        user = "postgres"
        if not _reachable_by(pgdir, user):  # e.g. under pytest's 0700 temp folders
            pgdir = Path("/tmp") / f"engageflow-pg-{stack.ports.postgres}"
    pgdir.mkdir(parents=True, exist_ok=True)
    data = pgdir / "data"
    log = stack.home / "logs" / "postgres-init.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    if user:
        entry = pwd.getpwnam(user)
        os.chown(pgdir, entry.pw_uid, entry.pw_gid)
        pgdir.chmod(0o700)
    if not (data / "PG_VERSION").exists():
        pwfile = pgdir / "pwfile"
        pwfile.write_text(password + "\n")
        if user:
            os.chown(pwfile, pwd.getpwnam(user).pw_uid, -1)
        _run([str(bindir / "initdb"), "-D", str(data), "-U", DB_USER, f"--pwfile={pwfile}",
              "--auth=scram-sha-256", "-E", "UTF8", "--no-locale"], os.environ.copy(),
             "initdb", log, user=user, timeout=120, cwd=pgdir)
        pwfile.unlink()
    stack.services.append({"name": "postgres-data", "pid": 0, "stop_signal": 0,
                           "log": str(pgdir)})
    port = stack.ports.postgres
    proc = _start(stack, "postgres", [
        str(bindir / "postgres"), "-D", str(data), "-p", str(port),
        "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={pgdir}",
        "-c", "max_connections=200"], os.environ.copy(), stop_signal=signal.SIGINT, user=user,
        cwd=pgdir)

    import psycopg2

    def connect():
        return psycopg2.connect(host="127.0.0.1", port=port, user=DB_USER, password=password,
                                dbname="postgres", connect_timeout=3)

    def ready() -> bool:
        try:
            connect().close()
            return True
        except psycopg2.OperationalError:
            return False

    _wait("postgres", proc, ready, Path(stack.services[-1]["log"]), 60)
    conn = connect()
    conn.autocommit = True
    with conn.cursor() as cur:
        for name in DATABASES:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone() is None:
                cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    return f"postgresql+psycopg2://{DB_USER}:{password}@127.0.0.1:{port}"


def start_redis(stack: Stack) -> str:
    """Start Redis (no persistence) and return the broker URL."""
    port = stack.ports.redis
    (stack.home / "redis").mkdir(exist_ok=True)
    proc = _start(stack, "redis", [
        shutil.which("redis-server") or "redis-server", "--port", str(port),
        "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no",
        "--dir", str(stack.home / "redis")], os.environ.copy())
    import redis

    _wait("redis", proc, lambda: redis.Redis(port=port, socket_timeout=2).ping(),
          Path(stack.services[-1]["log"]), 30)
    return f"redis://127.0.0.1:{port}/0"


def airflow_env(stack: Stack, root: Path, db: str, broker: str, keys: dict[str, str]
                ) -> dict[str, str]:
    """The environment every Airflow component, the worker's tasks and clients share."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AIRFLOW", "ENGAGEFLOW", "MLFLOW"))}
    p = stack.ports
    env.update({
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        "HF_HUB_OFFLINE": "1",
        "ENGAGEFLOW_HOME": str(root),
        "ENGAGEFLOW_STATE": str(stack.home / "state"),
        "ENGAGEFLOW_DATA": str(stack.home / "data"),
        "ENGAGEFLOW_PREDICTION_LOG_URL": f"{db}/predictions",
        # the account-history feature store's online rows: Redis db 1 beside the broker's 0
        "ENGAGEFLOW_FEATURE_STORE_URL": f"redis://127.0.0.1:{p.redis}/1",
        "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{p.mlflow}",
        "AIRFLOW_HOME": str(stack.home / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(root / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__FERNET_KEY": keys["fernet_key"],
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{p.airflow}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"{db}/airflow",
        "AIRFLOW__CELERY__BROKER_URL": broker,
        # explicit driver: SQLAlchemy 2.1 maps a bare postgresql:// to psycopg (v3)
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{db}/airflow",
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": "1",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(p.airflow),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{p.airflow}",
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API__SECRET_KEY": keys["api_secret_key"],
        "AIRFLOW__API_AUTH__JWT_SECRET": keys["jwt_secret"],
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(p.worker_logs),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(p.trigger_logs),
    })
    return env


def _serving_available() -> bool:
    done = subprocess.run([str(BIN / "engageflow"), "serve", "--help"], capture_output=True,
                          timeout=120, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    return done.returncode == 0


def start_stack(home: Path, *, root: Path | None = None, ports: Ports = Ports(),
                triggerer: bool = False, serving: bool | None = None) -> Stack:
    """Install what is missing and start every service; on failure, stop what started.

    Args:
        home: Folder for the stack's state, logs, pids and data.
        root: The project root (holds dags/ and params.yaml); default: the current project.
        ports: Ports on 127.0.0.1 (0 = a free port).
        triggerer: Also start the Airflow triggerer (no EngageFlow task defers today).
        serving: Start ``engageflow serve``; ``None`` = where this checkout has it.

    Returns:
        The running stack (also saved to ``home/stack.json``).

    Raises:
        StackError: A service did not start; everything started so far is stopped.
        MissingPackageError: PostgreSQL or Redis is missing and cannot be installed.
    """
    root = (root or project_paths().root).resolve()
    home = home.resolve()
    if (existing := Stack.load(home)) and existing.services:
        raise StackError(f"local_stack: a stack is already recorded in {home / STATE_FILE}; "
                         "stop it first (make stack-down)")
    ensure_debian_packages(["postgresql", "redis-server"], "the local stack")
    home.mkdir(parents=True, exist_ok=True)
    keys = _secrets(home)
    stack = Stack(home=home, ports=ports.resolved(), admin_password=keys["admin_password"])
    stack.save()
    try:
        _start_services(stack, root, keys, triggerer, serving)
    except BaseException:
        stop_stack(home)
        raise
    return stack


def _start_services(stack: Stack, root: Path, keys: dict[str, str], triggerer: bool,
                    serving: bool | None) -> None:
    p = stack.ports
    db = start_postgres(stack, keys["db_password"])
    broker = start_redis(stack)
    env = airflow_env(stack, root, db, broker, keys)
    stack.env = {k: v for k, v in env.items()
                 if k.startswith(("AIRFLOW", "ENGAGEFLOW", "MLFLOW", "HF_"))}
    airflow_home = Path(env["AIRFLOW_HOME"])
    airflow_home.mkdir(parents=True, exist_ok=True)
    (airflow_home / "simple_auth_manager_passwords.json.generated").write_text(
        json.dumps({"admin": keys["admin_password"]}))

    mlflow = _start(stack, "mlflow", [
        str(BIN / "mlflow"), "server", "--backend-store-uri", f"{db}/mlflow",
        "--artifacts-destination", str(stack.home / "mlartifacts"), "--serve-artifacts",
        "--host", "127.0.0.1", "--port", str(p.mlflow), "-w", "1"], env)
    _run([str(BIN / "airflow"), "db", "migrate"], env, "airflow db migrate",
         stack.home / "logs" / "airflow-db-migrate.log")
    airflow = str(BIN / "airflow")
    api = _start(stack, "airflow-api-server",
                 [airflow, "api-server", "-H", "127.0.0.1", "-p", str(p.airflow), "-w", "1"],
                 env)
    _start(stack, "airflow-scheduler", [airflow, "scheduler"], env)
    _start(stack, "airflow-dag-processor", [airflow, "dag-processor"], env)
    worker = _start(stack, "airflow-celery-worker",
                    [airflow, "celery", "worker", "--concurrency", "1"], env)
    if triggerer:
        _start(stack, "airflow-triggerer", [airflow, "triggerer"], env)
    logs = stack.home / "logs"
    _wait("mlflow", mlflow, _http_ok(f"http://127.0.0.1:{p.mlflow}/health"),
          logs / "mlflow.log", 180)
    _wait("airflow-api-server", api,
          _http_ok(f"http://127.0.0.1:{p.airflow}/api/v2/monitor/health"),
          logs / "airflow-api-server.log", 240)
    worker_log = logs / "airflow-celery-worker.log"
    _wait("airflow-celery-worker", worker,
          lambda: " ready." in worker_log.read_text(errors="replace"), worker_log, 180)
    stack.urls = {"Airflow UI": f"http://127.0.0.1:{p.airflow}",
                  "MLflow UI": f"http://127.0.0.1:{p.mlflow}",
                  "PostgreSQL": f"postgresql://{DB_USER}@127.0.0.1:{p.postgres}/"
                                "{airflow,mlflow,predictions}",
                  "Redis": f"redis://127.0.0.1:{p.redis}/0"}
    if serving is None:
        serving = _serving_available()
    if serving:
        proc = _start(stack, "serving", [str(BIN / "engageflow"), "serve", "--host",
                                         "127.0.0.1", "--port", str(p.serving)], env)
        _wait("serving", proc, lambda: _port_open(p.serving), logs / "serving.log", 180)
        stack.urls["Serving API"] = f"http://127.0.0.1:{p.serving}"
    dead = [s["name"] for s in stack.services if s["pid"] and not _group_alive(s["pid"])]
    if dead:
        raise StackError(f"local_stack: {dead} exited during start-up; see their logs in "
                         f"{logs}:\n" + "\n".join(
                             f"--- {n}:\n{_log_tail(logs / f'{n}.log', 15)}" for n in dead))
    stack.save()


def _group_alive(pgid: int) -> bool:
    try:  # reap our own exited children first: a zombie still counts as a group member
        while os.waitpid(-pgid, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def stop_stack(home: Path, timeout: float = 30) -> list[str]:
    """Stop every recorded service and forget them.

    Airflow, MLflow and the serving API stop first (together), then Redis and PostgreSQL.
    Each process group gets its stop signal (SIGTERM; SIGINT for PostgreSQL's fast
    shutdown), then SIGKILL after ``timeout`` seconds.

    Returns:
        The names of the services that were stopped.
    """
    stack = Stack.load(home.resolve())
    if stack is None:
        return []
    stores = {"redis", "postgres"}
    running = [s for s in reversed(stack.services) if s["pid"] and _group_alive(s["pid"])]
    stopped = []
    for phase in ([s for s in running if s["name"] not in stores],
                  [s for s in running if s["name"] in stores]):
        for service in phase:
            os.killpg(service["pid"], service["stop_signal"])
        started = time.monotonic()
        while (any(_group_alive(s["pid"]) for s in phase)
               and time.monotonic() < started + timeout):
            time.sleep(0.3)
        for service in phase:
            if _group_alive(service["pid"]):
                logger.warning("%s (pgid %d) ignored signal %d for %.0f s; killing it",
                               service["name"], service["pid"], service["stop_signal"],
                               timeout)
                os.killpg(service["pid"], signal.SIGKILL)
            stopped.append(service["name"])
        logger.info("stopped %s in %.1f s", ", ".join(s["name"] for s in phase),
                    time.monotonic() - started)
    for service in stack.services:
        pgdir = Path(service["log"])
        if (service["name"] == "postgres-data" and pgdir.is_relative_to("/tmp")
                and pgdir.name.startswith("engageflow-pg-")):
            shutil.rmtree(pgdir, ignore_errors=True)   # a throw-away data folder
    stack.services = []
    stack.save()
    return stopped


def describe(stack: Stack) -> str:
    """What opens where, and how to log in."""
    lines = [f"  {name:<12} {url}" for name, url in stack.urls.items()]
    lines.append(f"  log in to Airflow as admin / {stack.admin_password}")
    lines.append(f"  logs: {stack.home / 'logs'};  stop: make stack-down")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m pipelines.deploy.local_stack up|down|status``."""
    parser = argparse.ArgumentParser(prog="local_stack", description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=["up", "down", "status"])
    parser.add_argument("--home", type=Path, default=None,
                        help="stack folder (default: <state>/stack, i.e. .engageflow/stack)")
    defaults = Ports()
    for name in ("postgres", "redis", "airflow", "mlflow", "serving"):
        parser.add_argument(f"--{name}-port", type=int, default=getattr(defaults, name),
                            help=f"port on 127.0.0.1 (default {getattr(defaults, name)}; "
                            "0 = any free port)")
    parser.add_argument("--triggerer", action="store_true", help="also start the triggerer")
    parser.add_argument("--no-serving", action="store_true", help="skip the serving API")
    args = parser.parse_args(argv)
    for name in ("postgres", "redis", "airflow", "mlflow", "serving"):
        value = getattr(args, f"{name}_port")
        if not 0 <= value <= 65535:
            parser.error(f"--{name}-port must be in [0, 65535]; got {value}")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    home = args.home or project_paths().state / "stack"
    if args.action == "down":
        stopped = stop_stack(home)
        print(f"stopped: {', '.join(stopped) or 'nothing was running'}")
        return 0
    if args.action == "status":
        stack = Stack.load(home)
        if stack is None or not stack.services:
            print("no stack running")
            return 1
        for s in stack.services:
            if s["pid"]:
                state = "running" if _group_alive(s["pid"]) else "STOPPED"
                print(f"  {s['name']:<24} pid {s['pid']:<8} {state}")
        print(describe(stack))
        return 0
    ports = Ports(**{n: getattr(args, f"{n}_port") for n in
                     ("postgres", "redis", "airflow", "mlflow", "serving")})
    stack = start_stack(home, ports=ports, triggerer=args.triggerer,
                        serving=False if args.no_serving else None)
    print("EngageFlow stack is up (CeleryExecutor + PostgreSQL + Redis + MLflow server):")
    print(describe(stack))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
