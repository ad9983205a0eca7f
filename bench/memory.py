"""Memory of the idle server: `scormhub serve` after start-up and a round of page requests.

The real server (embedded PostgreSQL, in-process SAQ worker, temp data dir) as a separate process on
127.0.0.1. Its RSS is read from /proc (psutil) after start-up, then after a signed-in client opened each
admin page, a postback was stored and processed, and the server sat idle for a moment. The embedded
PostgreSQL runs as its own daemon and is not counted (nor is it a child of the server). Baseline in the
same run: the bare Litestar app of bench.postbacks under uvicorn, idle after a few requests.

What the server imported is read in a separate interpreter that imports what `scormhub serve` imports
(scormhub.cli and scormhub.app) and lists the heavy packages among sys.modules: borb (PDF rendering)
must not be one of them, since PDFs are rendered in a worker process pool (deps.render_pool).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil

from bench.postbacks import bare_app, connect_account, database_url, postback
from bench.report import REPO, MiB, Section, Table, mib
from bench.server import admin_client, display, running_server

TARGET_RSS = 150 * MiB
SETTLE_S = 2.0
PAGES = ("/app/courses", "/app/contacts", "/app/reports", "/app/settings", "/app/sync", "/healthz")
HEAVY = ("borb", "PIL", "fontTools", "xlsxwriter", "segno", "black", "pydantic", "yaml", "rich", "jinja2")
_IMPORTS = """
import json, sys, psutil
import scormhub.cli, scormhub.app
packages = {name.split(".")[0] for name in sys.modules}
print(json.dumps({"heavy": sorted(p for p in %r if p in packages), "modules": len(sys.modules),
                  "rss": psutil.Process().memory_info().rss}))
"""


def run() -> Section:
    section = Section(
        key="memory",
        title="Memory: the idle server",
        command=".venv/bin/python -m bench --only memory",
    )
    with running_server(SCORMHUB_IN_PROCESS_WORKER="true") as server:
        process = psutil.Process(server.pid)
        time.sleep(SETTLE_S)
        started = process.memory_info().rss
        client, _ = admin_client(server)
        for path in PAGES:
            answer = client.get(path)
            if answer.status_code != 200:
                section.failures.append(f"GET {path} answered {answer.status_code}")
        client.close()
        # A postback stored and processed: the webhook path and the in-process worker have both run.
        secret_key = process.environ()["SCORMHUB_SECRET_KEY"]
        workspace_id, password = connect_account(database_url(server), secret_key)
        body, headers = postback(1, password)
        httpx.post(f"{server.base_url}/hooks/scorm-cloud/{workspace_id}", content=body, headers=headers)
        time.sleep(SETTLE_S)
        idle = process.memory_info().rss
        status = Path(f"/proc/{server.pid}/status").read_text()
        peak = int(status.split("VmHWM:", 1)[1].split()[0]) * 1024
        children = process.children(recursive=True)
        maps = Path(f"/proc/{server.pid}/maps").read_text()
    with bare_app() as port:
        for _ in range(20):
            httpx.post(f"http://127.0.0.1:{port}/hooks/scorm-cloud/{workspace_id}", content=b"{}")
        bare = next(
            (
                psutil.Process(c.pid).memory_info().rss
                for c in psutil.net_connections("tcp")
                if c.laddr and c.laddr.port == port and c.status == psutil.CONN_LISTEN and c.pid
            ),
            0,
        )
    imported = json.loads(
        subprocess.run(
            [sys.executable, "-c", _IMPORTS % (HEAVY,)],
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO,
        ).stdout
    )
    ok = idle < TARGET_RSS
    rows = [
        ["`scormhub serve` after start-up", mib(started), "", "", ""],
        [
            f"… after sign-in, {len(PAGES)} pages and a postback, idle {SETTLE_S:.0f} s",
            mib(idle),
            f"{idle / bare:.1f}x" if bare else "",
            f"< {mib(TARGET_RSS)}",
            "met" if ok else "MISSED",
        ],
        ["… its peak since start-up (VmHWM)", mib(peak), "", "", ""],
        ["Baseline: the bare Litestar app under uvicorn, idle", mib(bare), "1.0x", "", ""],
        [
            "An interpreter that imported scormhub.cli and scormhub.app",
            mib(imported["rss"]),
            "",
            "",
            "",
        ],
    ]
    if not ok:
        section.failures.append(f"idle server RSS {mib(idle)}, target < {mib(TARGET_RSS)}")
    if "borb" in imported["heavy"]:
        section.failures.append("the server imports borb (PDFs must render in the worker process pool)")
    section.tables.append(
        Table(
            headers=["Resident memory (RSS)", "value", "/ baseline", "target", "verdict"],
            rows=rows,
            caption=(
                "RSS of the server process alone: the embedded PostgreSQL is a separate daemon, and the "
                f"server had {len(children)} child processes at the end (the PDF render pool starts on "
                "first use)."
            ),
        )
    )
    # Packages with native code the server process has mapped (mypyc's hash-named modules left out).
    native = sorted(
        {
            path.split("/", 1)[0]
            for line in maps.splitlines()
            if "site-packages/" in line and "/" in (path := line.split("site-packages/", 1)[1])
        }
    )
    section.notes += [
        f"Server: `{display(server.command)}` (embedded PostgreSQL in a temp data dir, in-process worker); "
        f"stopped with SIGTERM: exit code {server.exit_code}.",
        f"Heavy packages imported by `scormhub.cli` + `scormhub.app` ({imported['modules']} modules): "
        + (", ".join(imported["heavy"]) or "none")
        + f" (looked for: {', '.join(HEAVY)}). borb is "
        + ("imported: PDF code is loaded eagerly." if "borb" in imported["heavy"] else "not imported.")
        + (
            " black is mapped in the server but not imported by those modules: Piccolo's migration "
            "tooling loads it when `serve` migrates the embedded database at start-up."
            if "black" in native and "black" not in imported["heavy"]
            else ""
        ),
        "Packages with native code mapped by the server: " + ", ".join(native) + ".",
    ]
    if server.exit_code != 0:
        section.failures.append(f"the server exited with {server.exit_code} after SIGTERM")
    print(section.markdown())
    return section
