"""An upload cut off by a crash leaves a `.part` file; a cron job removes it once it is clearly abandoned,
without waiting for the next restart (which may be days away on a long-lived dyno)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

from scormhub.integrations.storage import STALE_PARTIAL_S, FilesystemPackageStorage
from scormhub.jobs import cron_jobs
from scormhub.jobs.system import remove_stale_uploads


class FixedClock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def now(self) -> datetime:
        return self.moment


def partial_written_at(root: Path, name: str, moment: datetime) -> Path:
    partial = root / f".{name}.part"
    partial.write_bytes(b"PK\x03\x04 half a package")
    os.utime(partial, (moment.timestamp(), moment.timestamp()))
    return partial


async def test_the_cron_removes_an_abandoned_partial_upload_and_keeps_one_in_progress(tmp_path: Path) -> None:
    storage = FilesystemPackageStorage(tmp_path / "packages")  # the process is already running
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    abandoned = partial_written_at(storage.root, "crashed", now - timedelta(seconds=STALE_PARTIAL_S + 60))
    in_progress = partial_written_at(storage.root, "uploading", now - timedelta(seconds=30))
    finished = storage.root / "0123abcd.zip"
    finished.write_bytes(b"a stored package")
    os.utime(finished, (0, 0))  # old, but a package, not a partial upload

    deps = SimpleNamespace(storage=storage, clock=FixedClock(now))
    result = await remove_stale_uploads({"deps": deps})
    again = await remove_stale_uploads({"deps": deps})  # a second run (or process) is harmless

    assert not abandoned.exists()
    assert in_progress.exists()
    assert finished.exists()
    assert result == {"removed": 1}
    assert again == {"removed": 0}


def test_the_cleanup_is_scheduled_with_the_other_recovery_crons() -> None:
    schedules = {job.function.__name__: job.cron for job in cron_jobs(60)}
    assert schedules["remove_stale_uploads"] == schedules["sweep_inbox"] == "* * * * *"
