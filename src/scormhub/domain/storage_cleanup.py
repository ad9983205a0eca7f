"""Removing stored objects no course owns: the content of deleted courses (a delete interrupted between
the database and the storage, or storage that was down then), and packages of uploads that never became
a course (a process killed mid-upload or mid-validation). Safe to run twice and on several processes:
it only deletes what no course names, and deleting a missing object is fine."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from uuid import UUID

if TYPE_CHECKING:
    from scormhub.domain.ports import ObjectStore, UnitOfWork

# Younger objects may belong to an upload being validated or a course being saved right now.
ORPHAN_GRACE = timedelta(hours=1)


async def remove_orphan_objects(
    *, store: ObjectStore, uow: UnitOfWork, now: datetime, grace: timedelta = ORPHAN_GRACE
) -> dict[str, int]:
    cutoff = now - grace
    packages: dict[str, str] = {}  # package key -> object key
    async for item in store.list("packages/"):
        name = item.key.removeprefix("packages/")
        if item.modified < cutoff and name.endswith(".zip") and name[:-4].isalnum():
            packages[name[:-4]] = item.key
    content: dict[UUID, datetime] = {}
    async for item in store.list("content/"):
        folder = item.key.removeprefix("content/").split("/", 1)[0]
        try:
            course_id = UUID(folder)
        except ValueError:
            continue  # not ours (a staging leftover has a dot-name): left alone
        content[course_id] = max(content.get(course_id, item.modified), item.modified)
    async with uow:
        kept = await uow.courses.package_keys_in_use(list(packages)) if packages else set()
        gone = [
            cid
            for cid, last in content.items()
            if last < cutoff and await uow.courses.find_by_id(cid) is None
        ]
    for key, object_key in packages.items():
        if key not in kept:
            await store.delete(object_key)
    removed_files = 0
    for course_id in gone:
        removed_files += await store.delete_prefix(f"content/{course_id}/")
    return {"packages": len(packages) - len(kept), "courses": len(gone), "content_files": removed_files}
