"""FilesystemPackageStorage.settle: the stored zip holds exactly what validation accepted, so every engine
(SCORM Cloud imports the zip as it is) receives the layout and names the validator approved."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from zipfactory import STORED, RawEntry, build_zip, manifest

from scormhub.domain.scorm.archive import validate_package
from scormhub.domain.scorm.package import PackageLimits
from scormhub.integrations.storage import FilesystemPackageStorage

KEY = "0123456789abcdef0123456789abcdef"
LIMITS = PackageLimits()


@pytest.fixture
def storage(tmp_path: Path) -> FilesystemPackageStorage:
    return FilesystemPackageStorage(tmp_path / "packages")


async def test_a_package_already_as_validated_is_left_byte_for_byte(
    storage: FilesystemPackageStorage,
) -> None:
    original = build_zip([RawEntry("imsmanifest.xml", manifest().encode()), RawEntry("index.html", b"x")])
    storage.path(KEY).write_bytes(original)
    report = await storage.inspect(KEY, LIMITS)

    settled, size = await storage.settle(KEY, report, LIMITS)

    assert storage.path(KEY).read_bytes() == original
    assert (settled, size) == (report, len(original))


async def test_a_folder_zip_with_legacy_names_is_rewritten_as_the_validator_read_it(
    storage: FilesystemPackageStorage,
) -> None:
    lesson = "<html>le\u00e7on</html>".encode()
    storage.path(KEY).write_bytes(
        build_zip(
            [
                RawEntry("Course/imsmanifest.xml", manifest().encode()),
                RawEntry("Course/index.html", b"<html>lesson</html>"),
                RawEntry(b"Course/media/le\xe7on.html", lesson),  # cp1252, not flagged as UTF-8
                RawEntry("Course/media/clip.mp4", b"\x00video" * 100, method=STORED),
                RawEntry("Course/.DS_Store", b"finder"),
                RawEntry("__MACOSX/Course/._index.html", b"fork"),
            ]
        )
    )
    report = await storage.inspect(KEY, LIMITS)
    assert report.valid
    assert report.root_prefix == "Course/"

    settled, size = await storage.settle(KEY, report, LIMITS)

    data = storage.path(KEY).read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as kept:
        assert {i.filename: kept.read(i) for i in kept.infolist()} == {
            "imsmanifest.xml": manifest().encode(),
            "index.html": b"<html>lesson</html>",
            "media/le\u00e7on.html": lesson,
            "media/clip.mp4": b"\x00video" * 100,
        }
        assert kept.getinfo("media/clip.mp4").compress_type == zipfile.ZIP_STORED
    assert size == len(data)
    assert settled.root_prefix == ""
    assert settled.warnings == report.warnings, "the admin is still told the folder was treated as the course"
    again = validate_package(io.BytesIO(data), LIMITS)
    assert again.valid
    assert again.root_prefix == ""
    assert again.scos == report.scos
    assert list(storage.root.glob(".*.part")) == []


async def test_a_report_that_does_not_match_the_zip_leaves_it_unchanged_and_nothing_half_made(
    storage: FilesystemPackageStorage,
) -> None:
    folder = build_zip(
        [RawEntry("Course/imsmanifest.xml", manifest().encode()), RawEntry("Course/index.html")]
    )
    storage.path(KEY).write_bytes(folder)
    other = build_zip([RawEntry("Other/imsmanifest.xml", manifest().encode()), RawEntry("Other/index.html")])
    report_of_another_zip = validate_package(io.BytesIO(other), LIMITS)

    with pytest.raises(ValueError, match="zip and report differ"):
        await storage.settle(KEY, report_of_another_zip, LIMITS)

    assert storage.path(KEY).read_bytes() == folder
    assert list(storage.root.glob(".*.part")) == []
