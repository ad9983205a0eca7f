"""`scormhub plan` as an operator runs it: standalone, the plan and its limit are the deployment's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from processes import scormhub_env


def run_scormhub(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scormhub", *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_the_operator_sets_the_plan_and_limit_and_sees_them(tmp_path: Path, db: str) -> None:
    env = scormhub_env(tmp_path, DATABASE_URL=db)  # `db`: emptied first, so nothing is in use yet

    before = run_scormhub(["plan", "show"], env)
    trial = run_scormhub(["plan", "set", "trial", "--limit", "25"], env)
    live = run_scormhub(["plan", "set", "live"], env)
    refused = run_scormhub(["plan", "set", "trial", "--limit", "none"], env)

    assert before.returncode == 0, before.stderr
    assert before.stdout.strip() == "plan: trial · up to 10 active registrations · 0 in use"
    assert trial.stdout.strip() == "plan: trial · up to 25 active registrations · 0 in use"
    assert live.stdout.strip() == "plan: live · no limit · 0 in use"
    assert refused.returncode == 2
    assert "a whole number from 1, got 'none'" in refused.stderr
