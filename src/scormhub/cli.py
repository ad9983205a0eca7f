"""The `scormhub` command: serve, worker, migrate, login-link, plan, package check."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Iterator
from typing import NoReturn

from scormhub.settings import ConfigError, Settings

log = logging.getLogger("scormhub")


def main(argv: list[str] | None = None) -> None:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        sys.exit(2)
    if args.command == "package":
        from scormhub.package_check import run_package_check

        sys.exit(run_package_check(args.file, as_json=args.json, out=sys.stdout))
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        _fail(f"configuration error: {exc}", code=2)
    from scormhub.logs import configure_logging

    configure_logging(settings.log_level)
    handlers = {
        "serve": _serve,
        "worker": _worker,
        "migrate": _migrate,
        "login-link": _login_link,
        "plan": _plan,
    }
    handlers[args.command](settings, args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scormhub", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve", help="run the web app (and, by default, the job worker)")
    serve.add_argument("--host", help="interface to listen on (default SCORMHUB_HOST)")
    serve.add_argument("--port", type=int, help="port to listen on (default PORT)")
    commands.add_parser(
        "worker", help="run only the job worker (set SCORMHUB_IN_PROCESS_WORKER=false on web)"
    )
    commands.add_parser("migrate", help="apply database migrations")
    commands.add_parser("login-link", help="print a one-time admin login link for the standalone workspace")
    plan = commands.add_parser("plan", help="show or set the standalone workspace's plan and limit")
    plan_commands = plan.add_subparsers(dest="plan_command", required=True)
    plan_commands.add_parser("show", help="print the plan, its limit and the registrations in use")
    plan_set = plan_commands.add_parser("set", help="set the plan: trial (limited) or live")
    plan_set.add_argument("mode", choices=("trial", "live"))
    plan_set.add_argument(
        "--limit",
        type=_limit,
        default=None,
        help="active registrations allowed (trial default 10; live: none)",
    )
    package = commands.add_parser("package", help="SCORM package tools")
    package_commands = package.add_subparsers(dest="package_command", required=True)
    check = package_commands.add_parser("check", help="validate a SCORM zip without importing it")
    check.add_argument("file", help="path to the .zip")
    check.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def _fail(message: str, *, code: int = 1) -> NoReturn:
    print(f"scormhub: {message}", file=sys.stderr)
    sys.exit(code)


@contextlib.contextmanager
def _database(settings: Settings) -> Iterator[tuple[str, bool]]:
    """Yield (url, embedded): DATABASE_URL as given, or an embedded server that stops on exit."""
    from scormhub.integrations.db.database import (
        DatabaseUnavailable,
        EmbeddedPostgres,
        check_connection,
        configure,
        ensure_database,
    )

    embedded: EmbeddedPostgres | None = None
    try:
        if settings.database_url:
            url = settings.database_url
        else:
            embedded = EmbeddedPostgres(settings.data_dir)
            try:
                url = ensure_database(embedded.start(), "scormhub")
            except Exception as exc:
                _fail(f"could not start the embedded PostgreSQL in {settings.data_dir / 'pgdata'}: {exc}")
        try:
            asyncio.run(check_connection(url))
        except DatabaseUnavailable as exc:
            _fail(f"{exc}. Is PostgreSQL running, and is DATABASE_URL right?")
        configure(url)
        yield url, embedded is not None
    finally:
        if embedded is not None:
            embedded.stop()


def _serve(settings: Settings, args: argparse.Namespace) -> None:
    import dataclasses
    import os
    import socket

    import uvicorn

    if args.port:
        settings = dataclasses.replace(settings, port=args.port)
        if not os.environ.get("SCORMHUB_PUBLIC_URL"):
            # Links we print and send must point at the port we actually listen on.
            settings = dataclasses.replace(settings, public_url=f"http://127.0.0.1:{args.port}")

    from scormhub.app import create_app

    with _database(settings) as (url, embedded):
        if embedded:
            # The zero-setup default migrates itself; with DATABASE_URL, `scormhub migrate` runs on release.
            _migrate_in_child(url)
        # Made now (before the server's event loop), printed once the server listens: a link printed
        # earlier answered "connection refused" to whoever clicked it in the first moment.
        login = (
            None
            if settings.is_production
            else _login_message(settings, asyncio.run(_new_login_link(settings)))
        )

        class AnnouncingServer(uvicorn.Server):
            async def startup(self, sockets: list[socket.socket] | None = None) -> None:
                await super().startup(sockets=sockets)
                if login and not self.should_exit:
                    print(login, flush=True)

        server = AnnouncingServer(
            uvicorn.Config(
                create_app(settings),
                host=args.host or settings.host,
                port=settings.port,
                log_config=None,
                access_log=False,
                # The app finds the client's address itself (TrustedProxyMiddleware, by hop count):
                # uvicorn's FORWARDED_ALLOW_IPS='*' would take the client's own left-most entry.
                proxy_headers=False,
                # No WebSocket routes: without this uvicorn imports the websockets library for nothing.
                ws="none",
                timeout_graceful_shutdown=30,
            )
        )
        # uvicorn re-raises the signal it caught once it has shut down; with the default SIGTERM action
        # the process would die before the embedded PostgreSQL is stopped, so exit through Python.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        _settle_garbage_collector()
        server.run()


def _migrate_in_child(url: str) -> None:
    """`scormhub migrate` against `url` in a child process, for `serve` on the embedded database.

    Not in this process: Piccolo's migration machinery imports the black formatter and the migration
    modules, ~7 MB that would stay resident in the web process for its whole life after one use.
    """
    import os
    import subprocess

    env = {**os.environ, "DATABASE_URL": url}
    result = subprocess.run([sys.executable, "-m", "scormhub", "migrate"], env=env, check=False)
    if result.returncode != 0:
        _fail(f"migrations failed (exit code {result.returncode}); see the messages above")


def _settle_garbage_collector() -> None:
    """Keep the cycle collector off what lives as long as the process, and run it less often.

    After start-up the heap holds some hundred thousand objects (modules, routes, templates) that are
    never freed, and every full collection walked them all: under a stream of requests the collector took
    about a fifth of the CPU (47 µs a postback, measured with gc.callbacks). Frozen, they are skipped;
    collecting the youngest generation every 5,000 allocations instead of 700 halves what remains.
    """
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(5000, 10, 10)


def _worker(settings: Settings, args: argparse.Namespace) -> None:
    with _database(settings):
        _settle_garbage_collector()
        asyncio.run(_run_worker(settings))


async def _run_worker(settings: Settings) -> None:
    import os

    from scormhub.bootstrap import build_deps
    from scormhub.lifespan import running

    async with running(build_deps(settings), worker=True) as started:
        assert started.worker_task is not None
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        log.info("worker started (pid %s); stop it with SIGTERM", os.getpid())
        stopping = asyncio.create_task(stop.wait())
        # Until a signal (or the worker failing); leaving `running` lets running jobs finish or requeues them.
        await asyncio.wait({started.worker_task, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()


def _migrate(settings: Settings, args: argparse.Namespace) -> None:
    from scormhub.integrations.db.database import migrate

    with _database(settings):
        asyncio.run(migrate())
    print("Migrations applied.")


def _login_link(settings: Settings, args: argparse.Namespace) -> None:
    with _database(settings):
        link = asyncio.run(_new_login_link(settings))
    print(link)


async def _new_login_link(settings: Settings) -> str:
    from scormhub.domain.workspaces import ensure_standalone_workspace, issue_login_token
    from scormhub.integrations.clock import SystemClock
    from scormhub.integrations.db.uow import PiccoloUnitOfWork

    clock = SystemClock()
    workspace, _ = await ensure_standalone_workspace(uow=PiccoloUnitOfWork(), clock=clock)
    token = await issue_login_token(workspace.id, uow=PiccoloUnitOfWork(), clock=clock)
    return f"{settings.public_url}/login/{token}"


def _limit(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a whole number from 1, got {raw!r}") from None
    if not 1 <= value <= 1_000_000:
        raise argparse.ArgumentTypeError(f"a whole number from 1 to 1000000, got {value}")
    return value


def _plan(settings: Settings, args: argparse.Namespace) -> None:
    """Standalone mode: the operator decides the plan (there is no marketplace to bill through)."""
    with _database(settings):
        print(asyncio.run(_plan_command(args)))


async def _plan_command(args: argparse.Namespace) -> str:
    from scormhub.domain.billing.plans import set_operator_plan
    from scormhub.domain.enrollments import plan_usage
    from scormhub.domain.model import PlanMode
    from scormhub.domain.workspaces import ensure_standalone_workspace
    from scormhub.integrations.clock import SystemClock
    from scormhub.integrations.db.uow import PiccoloUnitOfWork

    clock = SystemClock()
    workspace, _ = await ensure_standalone_workspace(uow=PiccoloUnitOfWork(), clock=clock)
    if args.plan_command == "set":
        mode = PlanMode(args.mode)
        await set_operator_plan(workspace.id, mode, args.limit, uow=PiccoloUnitOfWork(), clock=clock)
        async with PiccoloUnitOfWork() as uow:
            workspace = await uow.workspaces.get(workspace.id) or workspace
    usage = await plan_usage(workspace, uow=PiccoloUnitOfWork())
    limit = f"up to {usage.limit} active registrations" if usage.limit is not None else "no limit"
    return f"plan: {workspace.plan.value} · {limit} · {usage.used} in use"


def _login_message(settings: Settings, link: str) -> str:
    return (
        "\n  SCORM Hub is starting at " + settings.public_url + "\n"
        "  Sign in with this one-time link (valid for 24 hours):\n\n"
        f"    {link}\n\n"
        "  Need another? Run: make login-link  (or: scormhub login-link)\n"
    )


if __name__ == "__main__":
    main()
