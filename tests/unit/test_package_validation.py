"""What an admin sees when uploading a SCORM zip: the validator's verdicts on real and hostile packages."""

from __future__ import annotations

import io
import json
import unicodedata
import zipfile
from pathlib import Path
from typing import Literal

import pytest
from zipfactory import (
    ADLCP2004,
    IMSSS,
    STORED,
    RawEntry,
    build_zip,
    item,
    manifest,
    package,
    resource,
)

from scormhub.domain.scorm.archive import plan_extraction, validate_package
from scormhub.domain.scorm.package import PackageLimits, PackageReport, Problem, Sco
from scormhub.package_check import run_package_check
from shared_packages import PACKAGES

VALID = PACKAGES / "valid"
INVALID = PACKAGES / "invalid"
KB = 1024
MB = 1024 * KB


def check(data: bytes, limits: PackageLimits | None = None) -> PackageReport:
    return validate_package(io.BytesIO(data), limits or PackageLimits())


def only(problems: tuple[Problem, ...], code: str) -> Problem:
    found = [p for p in problems if p.code == code]
    assert len(found) == 1, f"expected one {code}, got {[p.code for p in problems]}"
    return found[0]


def codes(problems: tuple[Problem, ...]) -> set[str]:
    return {p.code for p in problems}


def rejected(report: PackageReport, code: str) -> Problem:
    assert not report.valid
    return only(report.errors, code)


def accepted_with(report: PackageReport, code: str) -> Problem:
    assert report.valid, report.errors
    return only(report.warnings, code)


class CountingReader(io.BytesIO):
    """Counts the bytes the validator pulls from the upload, to show what it never touched."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk


# --- the real Golf Examples ---------------------------------------------------------------------------

GOLF = [
    (
        "ContentPackagingSingleSCO_SCORM20042ndEdition.zip",
        "scorm2004",
        "2nd",
        "Golf Explained - CP Single SCO",
    ),
    ("RuntimeBasicCalls_SCORM12.zip", "scorm12", None, "Golf Explained - Run-time Basic Calls"),
    (
        "RuntimeBasicCalls_SCORM20043rdEdition.zip",
        "scorm2004",
        "3rd",
        "Golf Explained - Run-time Basic Calls",
    ),
    ("RuntimeMinimumCalls_SCORM12.zip", "scorm12", None, "Golf Explained - Minimum Run-time Calls"),
    (
        "SequencingPostTestRollup4thEd_SCORM20044thEdition.zip",
        "scorm2004",
        "4th",
        "Golf Explained - 4th Edition Features",
    ),
]


@pytest.mark.parametrize(("zip_name", "standard", "edition", "title"), GOLF)
def test_each_golf_example_is_valid_with_its_standard_edition_and_title(
    zip_name: str, standard: str, edition: str | None, title: str
) -> None:
    report = validate_package(VALID / zip_name)

    assert report.valid, report.errors
    assert (report.standard, report.edition, report.title) == (standard, edition, title)
    assert report.warnings == ()
    assert report.root_prefix == ""


@pytest.mark.parametrize(
    "zip_name",
    [
        "ContentPackagingSingleSCO_SCORM20042ndEdition.zip",
        "RuntimeBasicCalls_SCORM12.zip",
        "RuntimeBasicCalls_SCORM20043rdEdition.zip",
    ],
)
def test_each_single_sco_golf_example_launches_the_shared_launch_page(zip_name: str) -> None:
    report = validate_package(VALID / zip_name)

    assert report.scos == (Sco("item_1", "Golf Explained", "shared/launchpage.html"),)
    assert report.mastery_score is None


def test_the_scorm12_multi_sco_example_lists_its_18_scos_with_item_parameters_appended() -> None:
    report = validate_package(VALID / "RuntimeMinimumCalls_SCORM12.zip")

    assert [s.launch for s in report.scos] == [
        "Playing/Playing.html",
        "Playing/Par.html",
        "Playing/Scoring.html",
        "Playing/OtherScoring.html",
        "Playing/RulesOfGolf.html",
        "shared/assessmenttemplate.html?questions=Playing",
        "Etiquette/Course.html",
        "Etiquette/Distracting.html",
        "Etiquette/Play.html",
        "shared/assessmenttemplate.html?questions=Etiquette",
        "Handicapping/Overview.html",
        "Handicapping/CalculatingHandicap.html",
        "Handicapping/CalculatingScore.html",
        "Handicapping/CalculatingScore.html",  # the manifest points the example item at this page too
        "shared/assessmenttemplate.html?questions=Handicapping",
        "HavingFun/HowToHaveFun.html",
        "HavingFun/MakeFriends.html",
        "shared/assessmenttemplate.html?questions=HavingFun",
    ]
    assert report.scos[5] == Sco(
        "playing_quiz_item", "Playing Golf Quiz", "shared/assessmenttemplate.html?questions=Playing"
    )


def test_the_4th_edition_example_lists_5_scos_keeping_each_launch_query_string() -> None:
    report = validate_package(VALID / "SequencingPostTestRollup4thEd_SCORM20044thEdition.zip")

    assert [(s.identifier, s.title, s.launch) for s in report.scos] == [
        ("playing_item", "Playing the Game", "shared/launchpage.html?content=playing"),
        ("etuqiette_item", "Etiquette", "shared/launchpage.html?content=etiquette"),
        ("handicapping_item", "Handicapping", "shared/launchpage.html?content=handicapping"),
        ("havingfun_item", "Having Fun", "shared/launchpage.html?content=havingfun"),
        ("assessment_item", "Quiz", "shared/launchpage.html?content=assessment"),
    ]


def test_a_golf_example_can_be_checked_from_an_open_file_as_well_as_from_a_path() -> None:
    path = VALID / "RuntimeBasicCalls_SCORM12.zip"
    with path.open("rb") as stream:
        stream.seek(7)
        from_stream = validate_package(stream)
        position_after = stream.tell()

    assert from_stream == validate_package(str(path)) == validate_package(path)
    assert position_after == 7  # the importer can read the same upload again


def test_the_extraction_plan_of_a_golf_example_covers_every_file_under_its_own_name() -> None:
    path = VALID / "RuntimeBasicCalls_SCORM12.zip"
    report = validate_package(path)
    with zipfile.ZipFile(path) as zf:
        plan = plan_extraction(zf, report)
        names = [info.filename for info in zf.infolist() if not info.is_dir()]

    assert [target for _, target in plan] == names
    assert "shared/launchpage.html" in names


# --- the shared invalid samples -----------------------------------------------------------------------


def test_a_zip_without_any_manifest_is_rejected_as_not_a_scorm_package() -> None:
    problem = rejected(validate_package(INVALID / "missing_manifest.zip"), "P2-no-manifest")

    assert "not a SCORM package" in problem.message
    assert "no imsmanifest.xml" in problem.message


def test_a_course_zipped_as_its_folder_is_rebased_onto_that_folder_with_the_zip_the_contents_hint() -> None:
    report = validate_package(INVALID / "nested_manifest.zip")

    problem = accepted_with(report, "P1-manifest-in-folder")
    assert "zip the folder's contents, not the folder" in problem.message
    assert "'MyCourse'" in problem.message
    assert report.root_prefix == "MyCourse/"
    assert [(s.identifier, s.title, s.launch) for s in report.scos] == [("item1", "SCO", "index.html")]


def test_the_rebased_folder_is_stripped_and_mac_junk_left_out_of_the_extraction_plan() -> None:
    path = INVALID / "nested_manifest.zip"
    report = validate_package(path)
    with zipfile.ZipFile(path) as zf:
        targets = [target for _, target in plan_extraction(zf, report)]

    assert targets == ["imsmanifest.xml", "index.html"]


def test_a_launch_file_that_differs_only_in_case_is_rejected_naming_both_spellings() -> None:
    problem = rejected(validate_package(INVALID / "missing_launch_file.zip"), "P8-launch-case-mismatch")

    assert "'shared/launchpage.html'" in problem.message
    assert "'shared/LaunchPage.html'" in problem.message
    assert "upper/lower case" in problem.message


def test_the_zip_slip_sample_is_rejected_naming_every_escaping_entry() -> None:
    report = validate_package(INVALID / "zip_slip.zip")

    assert not report.valid
    assert "'../../evil_parent.txt'" in only(report.errors, "Z3-parent-folder").message
    assert "'../../evil_backslash.txt'" in only(report.errors, "Z3-parent-folder").message
    assert "'/tmp/evil_absolute.txt'" in only(report.errors, "Z3-absolute-path").message
    assert "'C:/evil_drive.txt'" in only(report.errors, "Z3-drive-letter").message
    assert "outside the course folder" in only(report.errors, "Z3-parent-folder").message


def test_nothing_is_planned_for_extraction_from_the_zip_slip_sample() -> None:
    path = INVALID / "zip_slip.zip"
    report = validate_package(path)

    with zipfile.ZipFile(path) as zf, pytest.raises(ValueError, match="failed validation"):
        plan_extraction(zf, report)


def test_the_high_ratio_bomb_is_rejected_from_its_headers_without_being_inflated() -> None:
    upload = CountingReader((INVALID / "high_ratio_bomb.zip").read_bytes())

    problem = rejected(validate_package(upload), "Z2-compression-ratio")

    assert "'media/zeros.bin'" in problem.message
    assert "zip bomb" in problem.message
    assert upload.bytes_read < 4 * KB  # the central directory, not the 20 KB of compressed zeros


# --- Z1: it must be a readable zip --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "Z1-empty"),
        (b"%PDF-1.7 this is a PDF, not a zip", "Z1-not-a-zip"),
        (package(manifest())[:150], "Z1-not-a-zip"),
    ],
    ids=["empty file", "not a zip", "truncated zip"],
)
def test_a_file_that_is_not_a_complete_zip_is_rejected_without_raising(data: bytes, code: str) -> None:
    problem = rejected(check(data), code)

    assert "zip" in problem.message or "empty" in problem.message


def test_a_missing_file_path_gives_a_report_instead_of_an_exception(tmp_path: Path) -> None:
    problem = rejected(validate_package(tmp_path / "gone.zip"), "Z1-unreadable")

    assert "could not be read" in problem.message


def test_a_closed_upload_stream_gives_a_report_instead_of_an_exception() -> None:
    upload = io.BytesIO(package(manifest()))
    upload.close()

    assert "could not be read" in rejected(validate_package(upload), "Z1-unreadable").message


def test_a_password_protected_entry_is_rejected_naming_the_file() -> None:
    secret = RawEntry("quiz/answers.js", b"\x8f\x11garbage", method=STORED, flags=0x1)

    problem = rejected(check(package(manifest(), extra=[secret])), "Z1-encrypted")

    assert "'quiz/answers.js'" in problem.message
    assert "password" in problem.message


def test_a_deflate64_entry_is_rejected_with_a_clear_compression_message() -> None:
    video = RawEntry("media/intro.mp4", b"\x00\x01 not really deflate64", method=9)

    problem = rejected(check(package(manifest(), extra=[video])), "Z1-unsupported-compression")

    assert "'media/intro.mp4' uses Deflate64" in problem.message
    assert "Deflate" in problem.message


def test_an_entry_whose_crc_does_not_match_is_rejected_as_damaged() -> None:
    damaged = RawEntry("index.html", b"<html>lesson</html>", crc=0xDEADBEEF)
    data = build_zip([RawEntry("imsmanifest.xml", manifest().encode()), damaged])

    problem = rejected(check(data), "Z1-corrupt-entry")

    assert "'index.html'" in problem.message


def test_names_marked_utf8_that_are_not_utf8_are_rejected_as_a_damaged_zip() -> None:
    bad_name = RawEntry(b"le\xe7on.html", b"x", flags=0x800)

    problem = rejected(check(package(manifest(), extra=[bad_name])), "Z1-not-a-zip")

    assert "damaged" in problem.message


# --- Z2: size limits, counted while streaming ---------------------------------------------------------


def test_a_header_claiming_1kb_for_50mb_of_data_is_stopped_near_the_claimed_size() -> None:
    liar = RawEntry("media/poster.png", bytes(50 * MB), declared_size=KB)
    data = package(manifest(), extra=[liar])
    upload = CountingReader(data)
    limits = PackageLimits(max_total_uncompressed=2 * MB)

    problem = rejected(validate_package(upload, limits), "Z2-size-mismatch")

    assert "'media/poster.png' holds more than 1.0 KB" in problem.message
    assert len(data) > 45 * KB
    assert upload.bytes_read < 16 * KB  # one compressed chunk of the 49 KB stream, not all of it


def test_a_header_claiming_more_data_than_the_entry_holds_is_rejected() -> None:
    short = RawEntry("index.html", b"<html>lesson</html>", declared_size=4 * KB)

    problem = rejected(
        check(build_zip([RawEntry("imsmanifest.xml", manifest().encode()), short])), "Z2-size-mismatch"
    )

    assert "'index.html' holds less than 4.0 KB" in problem.message


def test_a_zip_larger_than_the_upload_limit_is_rejected_before_it_is_opened() -> None:
    problem = rejected(
        check(package(manifest()), PackageLimits(max_compressed_bytes=100)), "Z2-zip-too-large"
    )

    assert "the limit is 100 bytes" in problem.message


def test_a_zip_with_too_many_entries_is_rejected() -> None:
    files = {f"page{n}.html": b"x" for n in range(5)}

    problem = rejected(check(package(manifest(), files), PackageLimits(max_entries=3)), "Z2-too-many-files")

    assert "holds 6 files" in problem.message


def test_a_zip_that_would_unpack_beyond_the_total_limit_is_rejected() -> None:
    files = {"index.html": b"x", "media/a.bin": bytes(3 * KB), "media/b.bin": bytes(3 * KB)}

    report = check(package(manifest(), files), PackageLimits(max_total_uncompressed=4 * KB))

    assert "more than the 4.0 KB limit" in rejected(report, "Z2-too-large-unpacked").message


def test_a_highly_compressed_entry_below_the_ratio_threshold_is_accepted() -> None:
    report = check(package(manifest(), {"index.html": b"x", "blank.bmp": bytes(512 * KB)}))

    assert report.valid, report.errors


def test_entries_that_share_the_same_compressed_bytes_are_rejected_as_overlapping() -> None:
    entries = [
        RawEntry("imsmanifest.xml", manifest().encode()),
        RawEntry("index.html", b"<html>lesson</html>"),
        RawEntry("copy.html", b"<html>lesson</html>", same_data_as=1),
    ]

    problem = rejected(check(build_zip(entries)), "Z2-overlapping-entries")

    assert "overlap" in problem.message


# --- Z3: names ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "code", "shown"),
    [
        ("../../etc/cron.d/evil", "Z3-parent-folder", "'../../etc/cron.d/evil'"),
        ("shared/../../evil.html", "Z3-parent-folder", "'shared/../../evil.html'"),
        ("/etc/passwd", "Z3-absolute-path", "'/etc/passwd'"),
        ("C:/Windows/evil.dll", "Z3-drive-letter", "'C:/Windows/evil.dll'"),
        ("d:evil.txt", "Z3-drive-letter", "'d:evil.txt'"),
        ("//fileserver/share/evil.txt", "Z3-network-path", "'//fileserver/share/evil.txt'"),
        ("\\\\fileserver\\share\\evil.txt", "Z3-network-path", "'//fileserver/share/evil.txt'"),
        ("index.html\x00.exe", "Z3-control-character", "'index.html\\x00.exe'"),
        ("lesson\x07.html", "Z3-control-character", "'lesson\\x07.html'"),
        ("lesson\x85.html", "Z3-control-character", "'lesson\\x85.html'"),
    ],
)
def test_an_entry_name_that_could_escape_or_hide_is_rejected_and_shown_safely(
    name: str, code: str, shown: str
) -> None:
    report = check(package(manifest(), extra=[RawEntry(name, b"payload")]))

    assert shown in rejected(report, code).message


def test_backslash_separators_are_read_as_folders_with_a_warning() -> None:
    data = package(manifest(resources=resource(href="shared/start.html")), {"shared\\start.html": b"<html/>"})

    report = check(data)

    assert "'shared\\start.html'" in accepted_with(report, "Z3-backslash").message
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert [target for _, target in plan_extraction(zf, report)] == [
            "imsmanifest.xml",
            "shared/start.html",
        ]


def test_dot_segments_and_doubled_slashes_in_names_are_normalised_away() -> None:
    data = package(
        manifest(resources=resource(href="shared/start.html")), {"./shared//start.html": b"<html/>"}
    )

    report = check(data)

    assert report.valid, report.errors
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert [target for _, target in plan_extraction(zf, report)][-1] == "shared/start.html"


# --- Z4: links and special files ----------------------------------------------------------------------


def test_a_symbolic_link_is_rejected_naming_the_link() -> None:
    link = RawEntry("shared/passwords.txt", b"/etc/passwd", method=STORED, unix_mode=0o120777)

    problem = rejected(check(package(manifest(), extra=[link])), "Z4-symlink")

    assert "'shared/passwords.txt'" in problem.message
    assert "symbolic link" in problem.message


def test_a_device_or_pipe_entry_is_rejected_as_a_special_file() -> None:
    fifo = RawEntry("shared/pipe", b"", method=STORED, unix_mode=0o010644)

    assert "'shared/pipe'" in rejected(check(package(manifest(), extra=[fifo])), "Z4-special-file").message


def test_ordinary_unix_files_and_folders_are_accepted() -> None:
    extras = [
        RawEntry("shared/", b"", method=STORED, unix_mode=0o040755),
        RawEntry("shared/style.css", b"body{}", unix_mode=0o100644),
    ]

    assert check(package(manifest(), extra=extras)).errors == ()


# --- Z5: collisions -----------------------------------------------------------------------------------


def test_a_file_stored_twice_under_the_same_name_is_rejected() -> None:
    twice = [RawEntry("index.html", b"<html>other</html>")]

    assert "'index.html'" in rejected(check(package(manifest(), extra=twice)), "Z5-duplicate-name").message


def test_names_that_differ_only_in_case_are_rejected_naming_both() -> None:
    data = package(manifest(), {"index.html": b"a", "Shared/Logo.png": b"b", "shared/logo.png": b"c"})

    problem = rejected(check(data), "Z5-case-collision")

    assert "'Shared/Logo.png' and 'shared/logo.png'" in problem.message


def test_a_name_used_for_both_a_file_and_a_folder_is_rejected() -> None:
    data = package(manifest(), {"index.html": b"a", "shared": b"file", "shared/logo.png": b"b"})

    assert "'shared'" in rejected(check(data), "Z5-file-folder-clash").message


# --- Z6: legacy name encodings and Unicode normalisation ----------------------------------------------


def test_utf8_names_missing_the_utf8_flag_are_decoded_as_utf8_with_a_warning() -> None:
    lesson = RawEntry("Übung.html".encode(), b"<html/>")
    data = package(manifest(resources=resource(href="%C3%9Cbung.html")), {}, extra=[lesson])

    report = check(data)

    assert "as utf-8: 'Übung.html'" in accepted_with(report, "Z6-name-encoding").message


def test_cp866_names_are_decoded_with_the_configured_legacy_code_page() -> None:
    lesson = RawEntry("Урок.html".encode("cp866"), b"<html/>")
    data = package(manifest(resources=resource(href="Урок.html")), {}, extra=[lesson])
    limits = PackageLimits(legacy_codepage="cp866")

    report = check(data, limits)

    assert "as cp866: 'Урок.html'" in accepted_with(report, "Z6-name-encoding").message
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert [target for _, target in plan_extraction(zf, report, limits=limits)][-1] == "Урок.html"


def test_cp437_names_are_decoded_when_cp437_is_the_configured_code_page() -> None:
    lesson = RawEntry("Übung.html".encode("cp437"), b"<html/>")
    data = package(manifest(resources=resource(href="Übung.html")), {}, extra=[lesson])

    report = check(data, PackageLimits(legacy_codepage="cp437"))

    assert "as cp437: 'Übung.html'" in accepted_with(report, "Z6-name-encoding").message


@pytest.mark.parametrize(("zip_form", "href_form"), [("NFD", "NFC"), ("NFC", "NFD")])
def test_composed_and_decomposed_accents_match_and_are_extracted_composed(
    zip_form: Literal["NFC", "NFD"], href_form: Literal["NFC", "NFD"]
) -> None:
    composed = unicodedata.normalize("NFC", "café.html")
    in_zip = unicodedata.normalize(zip_form, composed)
    in_href = unicodedata.normalize(href_form, composed)
    data = package(manifest(resources=resource(href=in_href)), {in_zip: b"<html/>"})

    report = check(data)

    assert report.valid, report.errors
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert [target for _, target in plan_extraction(zf, report)][-1] == composed


# --- Z7: operating-system junk ------------------------------------------------------------------------


def test_mac_and_windows_junk_is_ignored_and_never_extracted() -> None:
    junk = {
        "__MACOSX/._index.html": b"\x00",
        ".DS_Store": b"\x00",
        "media/Thumbs.db": b"\x00",
        "index.html": b"x",
    }
    data = package(manifest(), junk)

    report = check(data)

    assert (report.valid, report.warnings) == (True, ())
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert [target for _, target in plan_extraction(zf, report)] == ["imsmanifest.xml", "index.html"]


def test_junk_at_the_root_does_not_stop_a_single_course_folder_from_being_rebased() -> None:
    files = {"Course/index.html": b"x", "__MACOSX/Course/._index.html": b"\x00", "Thumbs.db": b"\x00"}

    report = check(package(manifest(), files, manifest_name="Course/imsmanifest.xml"))

    accepted_with(report, "P1-manifest-in-folder")
    assert report.root_prefix == "Course/"


# --- P1/P2: where the manifest is, and what the zip is if there is none -------------------------------


def test_a_manifest_named_in_the_wrong_case_is_rejected_naming_the_case() -> None:
    problem = rejected(check(package(manifest(), manifest_name="IMSManifest.xml")), "P1-manifest-name-case")

    assert "'IMSManifest.xml'" in problem.message
    assert "exactly 'imsmanifest.xml'" in problem.message


def test_a_manifest_nested_two_folders_deep_is_rejected_with_the_zip_the_contents_hint() -> None:
    data = package(
        manifest(), {"Export/Course/index.html": b"x"}, manifest_name="Export/Course/imsmanifest.xml"
    )

    problem = rejected(check(data), "P1-manifest-not-at-root")

    assert "'Export/Course/imsmanifest.xml'" in problem.message
    assert "Zip the course folder's contents, not the folder itself" in problem.message


def test_a_nested_manifest_beside_other_top_level_files_is_rejected_with_the_zip_the_contents_hint() -> None:
    data = package(
        manifest(), {"Course/index.html": b"x", "readme.txt": b"x"}, manifest_name="Course/imsmanifest.xml"
    )

    assert "not the folder itself" in rejected(check(data), "P1-manifest-not-at-root").message


@pytest.mark.parametrize(
    ("files", "code", "article", "standard"),
    [
        (
            {"course.crs": b"", "course.au": b"", "course.des": b"", "course.cst": b""},
            "P2-aicc-package",
            "an",
            "AICC",
        ),
        ({"cmi5.xml": b"<courseStructure/>", "index.html": b""}, "P2-cmi5-package", "a", "cmi5"),
        ({"tincan.xml": b"<tincan/>", "index.html": b""}, "P2-xapi-package", "an", "xAPI"),
    ],
)
def test_a_package_of_another_e_learning_standard_is_refused_naming_that_standard(
    files: dict[str, bytes], code: str, article: str, standard: str
) -> None:
    problem = rejected(check(package(None, files)), code)

    assert f"This looks like {article} {standard}" in problem.message
    assert "SCORM 1.2 and 2004 only" in problem.message


def test_a_zip_of_sound_files_is_not_mistaken_for_aicc() -> None:
    problem = rejected(check(package(None, {"sounds/ding.au": b""})), "P2-no-manifest")

    assert "no imsmanifest.xml" in problem.message


# --- P3: parsing the manifest safely ------------------------------------------------------------------


@pytest.mark.parametrize("content", [b"", b"  \n\t "], ids=["0 bytes", "only whitespace"])
def test_an_empty_manifest_is_rejected(content: bytes) -> None:
    assert "imsmanifest.xml is empty" in rejected(check(package(content)), "P3-empty-manifest").message


def test_a_manifest_that_is_not_xml_is_rejected_pointing_at_the_line() -> None:
    problem = rejected(check(package(b"<manifest>\n<organizations>\n</manifest>")), "P3-not-xml")

    assert "not well-formed XML" in problem.message
    assert "line 3" in problem.message


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE manifest [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<manifest xmlns="http://www.imsproject.org/xsd/imscp_rootv1p1p2"><metadata>&lol9;</metadata></manifest>
"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE manifest [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<manifest xmlns="http://www.imsproject.org/xsd/imscp_rootv1p1p2"><metadata>&secret;</metadata></manifest>
"""


def test_an_entity_expansion_bomb_in_the_manifest_is_refused() -> None:
    problem = rejected(check(package(BILLION_LAUGHS)), "P3-xml-entities")

    assert "<!ENTITY" in problem.message
    assert "gigabytes" in problem.message


def test_an_external_entity_in_the_manifest_is_refused_naming_the_outside_file() -> None:
    problem = rejected(check(package(EXTERNAL_ENTITY)), "P3-xml-entities")

    assert "'file:///etc/passwd'" in problem.message
    assert "never loads outside files" in problem.message


def test_a_manifest_over_the_size_cap_is_rejected_without_parsing_it() -> None:
    padded = manifest().replace("<metadata>", "<!--" + "x" * 4 * KB + "--><metadata>")

    report = check(package(padded), PackageLimits(max_manifest_bytes=2 * KB))

    assert "larger than 2.0 KB" in rejected(report, "P3-manifest-too-large").message


def test_a_manifest_starting_with_a_byte_order_mark_is_accepted() -> None:
    report = check(package(b"\xef\xbb\xbf" + manifest().encode()))

    assert (report.valid, report.title) == (True, "Golf basics")


def test_a_utf16_manifest_is_accepted() -> None:
    text = manifest(title="Golf für Anfänger").replace('encoding="UTF-8"', 'encoding="UTF-16"')

    report = check(package(text.encode("utf-16")))

    assert (report.valid, report.title) == (True, "Golf für Anfänger")


def test_a_latin1_manifest_that_says_so_keeps_its_accents() -> None:
    text = manifest(title="Golf für Anfänger").replace('encoding="UTF-8"', 'encoding="ISO-8859-1"')

    assert check(package(text.encode("latin-1"))).title == "Golf für Anfänger"


def test_a_utf8_manifest_that_claims_to_be_utf16_is_read_as_utf8() -> None:
    text = manifest(title="Golf für Anfänger").replace('encoding="UTF-8"', 'encoding="UTF-16"')

    report = check(package(text.encode("utf-8")))

    assert (report.valid, report.title) == (True, "Golf für Anfänger")


def test_a_manifest_in_the_wrong_encoding_is_read_with_the_legacy_code_page_and_a_warning() -> None:
    report = check(package(manifest(title="Golf für Anfänger").encode("cp1252")))

    assert "read it as cp1252" in accepted_with(report, "P3-manifest-encoding").message
    assert report.title == "Golf für Anfänger"


def test_bare_ampersands_in_the_manifest_are_repaired_with_a_warning() -> None:
    report = check(package(manifest(title="Rules & Etiquette", items=item(title="Par & Scoring"))))

    assert "'&amp;'" in accepted_with(report, "P3-bare-ampersand").message
    assert report.title == "Rules & Etiquette"
    assert report.scos[0].title == "Par & Scoring"


# --- P4: structure ------------------------------------------------------------------------------------


def test_an_xml_file_that_is_not_a_content_package_manifest_is_rejected() -> None:
    problem = rejected(check(package("<html><body>Course</body></html>")), "P4-not-a-manifest")

    assert "<html>" in problem.message
    assert "with no namespace" in problem.message


def test_a_manifest_with_two_resources_sections_is_rejected() -> None:
    doubled = manifest().replace("</resources>", "</resources><resources/>")

    assert "exactly one <resources>" in rejected(check(package(doubled)), "P4-manifest-structure").message


def test_identifiers_shared_by_two_elements_are_rejected() -> None:
    data = package(manifest(items=item("lesson") + item("lesson", title="Lesson two")))

    assert "'lesson'" in rejected(check(data), "P4-duplicate-identifier").message


def test_an_item_pointing_at_a_resource_that_does_not_exist_is_rejected() -> None:
    problem = rejected(check(package(manifest(items=item(ref="res_missing")))), "P4-unresolved-reference")

    assert "'item1' → 'res_missing'" in problem.message


def test_a_scorm2004_manifest_without_metadata_is_rejected() -> None:
    problem = rejected(check(package(manifest("4th", metadata=""))), "P4-missing-metadata")

    assert "SCORM 2004 requires" in problem.message


def test_a_scorm12_manifest_without_metadata_is_accepted_as_scorm12_with_a_warning() -> None:
    report = check(package(manifest("1.2", metadata="")))

    assert report.standard == "scorm12"
    assert {"P4-missing-metadata", "P10-unknown-schemaversion"} <= codes(report.warnings)
    assert report.valid


def test_a_scorm2004_parent_item_that_also_launches_a_resource_is_rejected() -> None:
    parent = item("module", ref="res1", title="Module", inner=item("lesson", ref="res1"))

    assert (
        "'module'"
        in rejected(check(package(manifest("3rd", items=parent))), "P4-parent-item-launches").message
    )


def test_a_leaf_item_without_a_resource_is_skipped_with_a_warning() -> None:
    report = check(package(manifest(items=item("intro", ref=None, title="Welcome") + item())))

    assert "'Welcome'" in accepted_with(report, "P4-item-without-resource").message
    assert [s.identifier for s in report.scos] == ["item1"]


# --- P5: default organization -------------------------------------------------------------------------


def organizations(default: str | None) -> str:
    attribute = f' default="{default}"' if default is not None else ""
    first = f'<organization identifier="first"><title>First outline</title>{item("a")}</organization>'
    second = f'<organization identifier="second"><title>Second outline</title>{item("b")}</organization>'
    return f"<organizations{attribute}>{first}{second}</organizations>"


def test_a_scorm2004_default_organization_that_does_not_exist_is_rejected() -> None:
    data = package(manifest("4th", organizations=organizations("nope")))

    assert "'nope', which doesn't exist" in rejected(check(data), "P5-default-organization").message


def test_a_scorm12_manifest_without_a_default_organization_falls_back_to_the_first_with_a_warning() -> None:
    report = check(package(manifest("1.2", organizations=organizations(None))))

    assert "used the first one ('first')" in accepted_with(report, "P5-default-organization").message
    assert report.title == "First outline"


def test_the_named_default_organization_is_used_rather_than_the_first() -> None:
    report = check(package(manifest("4th", organizations=organizations("second"))))

    assert (report.title, report.scos[0].identifier) == ("Second outline", "b")


# --- P6: something trackable to launch ----------------------------------------------------------------


def test_an_asset_only_package_is_accepted_with_a_warning_that_progress_is_not_tracked() -> None:
    report = check(package(manifest(resources=resource(kind="asset"))))

    assert "can't be tracked" in accepted_with(report, "P6-asset-only").message
    assert report.scos == (Sco("item1", "Lesson one", "index.html", scorm_type="asset"),)


def test_a_resource_without_a_scorm_type_counts_as_an_asset() -> None:
    report = check(package(manifest(resources=resource(kind=None))))

    assert "only plain web pages" in accepted_with(report, "P6-asset-only").message
    assert [s.launch for s in report.scos] == ["index.html"]


@pytest.mark.parametrize(
    "attribute",
    ['adlcp:scormType="sco"', 'adlcp:SCORMTYPE="sco"', 'adlcp:scormtype="SCO"', 'scormtype="sco"'],
)
def test_scorm_type_spelling_variants_count_as_scos_with_a_warning(attribute: str) -> None:
    report = check(package(manifest(resources=resource(kind=None, attributes=attribute))))

    assert 'adlcp:scormtype="sco"' in accepted_with(report, "P6-scormtype-spelling").message
    assert len(report.scos) == 1


def test_an_outline_whose_scos_are_all_hidden_is_rejected() -> None:
    hidden = item().replace("<item ", '<item isvisible="false" ')

    assert "hidden" in rejected(check(package(manifest(items=hidden))), "P6-no-visible-sco").message


def test_a_hidden_wrapper_does_not_hide_the_visible_lessons_inside_it() -> None:
    # The Golf sequencing examples wrap their content in an invisible item to write rules on it.
    module = f'<item identifier="module" isvisible="false"><title>Module</title>{item()}</item>'

    report = check(package(manifest("4th", items=module)))

    assert report.valid, report.errors
    assert "P6-no-visible-sco" not in codes(report.warnings)
    assert report.organization is not None
    assert [(i.identifier, i.visible) for i in report.organization.walk()] == [
        ("module", False),
        ("item1", True),
    ]


def test_a_scorm2004_outline_of_hidden_scos_is_accepted_with_a_warning_as_flow_can_deliver_them() -> None:
    hidden = item().replace("<item ", '<item isvisible="false" ')

    report = check(package(manifest("4th", items=hidden)))

    assert 'isvisible="false"' in accepted_with(report, "P6-no-visible-sco").message


def test_an_outline_that_launches_nothing_is_rejected() -> None:
    report = check(package(manifest(items=item(ref=None))))

    assert "launches anything" in rejected(report, "P6-nothing-to-launch").message


# --- P7/P8: launch addresses and launch files ---------------------------------------------------------


@pytest.mark.parametrize(
    ("href", "code", "words"),
    [
        ("https://cdn.example.com/course/index.html", "P7-external-launch", "another website"),
        ("//cdn.example.com/course/index.html", "P7-external-launch", "another website"),
        ("/index.html", "P7-absolute-href", "leading '/'"),
        ("file:///C:/Courses/index.html", "P7-local-disk-path", "author's own computer"),
        ("C:\\Courses\\index.html", "P7-local-disk-path", "author's own computer"),
        ("javascript:alert(1)", "P7-unsupported-address", "only launch files stored in the package"),
        ("http://[::1/index.html", "P7-unsupported-address", "only launch files stored in the package"),
    ],
)
def test_a_launch_address_the_local_player_cannot_serve_is_rejected(href: str, code: str, words: str) -> None:
    problem = rejected(check(package(manifest(resources=resource(href=href)))), code)

    assert words in problem.message
    assert "'Lesson one'" in problem.message


def test_a_launch_file_that_is_missing_is_rejected_naming_it() -> None:
    problem = rejected(
        check(package(manifest(resources=resource(href="start.html")))), "P8-launch-file-missing"
    )

    assert "'start.html'" in problem.message
    assert "isn't in the zip" in problem.message


def test_a_resource_without_a_launch_href_is_rejected() -> None:
    report = check(package(manifest(resources=resource(href=None))))

    assert "no href" in rejected(report, "P8-no-launch-file").message


def test_a_launch_href_climbing_out_of_the_package_is_rejected() -> None:
    report = check(package(manifest(resources=resource(href="../other-course/index.html"))))

    assert "outside the package" in rejected(report, "P8-launch-outside-package").message


def test_a_percent_encoded_launch_href_with_query_and_fragment_finds_its_file() -> None:
    href = "my%20lesson/start%20here.html?page=2#top"

    report = check(
        package(manifest(resources=resource(href=href)), {"my lesson/start here.html": b"<html/>"})
    )

    assert report.valid, report.errors
    assert report.scos[0].launch == href


def test_the_xml_base_chain_prefixes_the_launch_href_and_item_parameters_follow_its_query() -> None:
    res = resource(href="start.html?mode=normal", attributes='xml:base="lesson1/"')
    text = manifest(
        "4th",
        items=item().replace("<item ", '<item parameters="?attempt=1" '),
        resources=res,
        root_attributes='xml:base="content/"',
    ).replace("<resources>", '<resources xml:base="course/">')

    report = check(package(text, {"content/course/lesson1/start.html": b"<html/>"}))

    assert report.valid, report.errors
    assert report.scos[0].launch == "content/course/lesson1/start.html?mode=normal&attempt=1"


def test_an_xml_base_without_a_trailing_slash_is_treated_as_a_folder_with_a_warning() -> None:
    res = resource(href="start.html", attributes='xml:base="lesson1"')

    report = check(package(manifest(resources=res), {"lesson1/start.html": b"<html/>"}))

    assert "'lesson1'" in accepted_with(report, "P7-xml-base-slash").message
    assert report.scos[0].launch == "lesson1/start.html"


@pytest.mark.parametrize(
    ("href", "parameters", "launch"),
    [
        ("index.html", "?questions=Playing", "index.html?questions=Playing"),
        ("index.html", "questions=Playing", "index.html?questions=Playing"),
        ("index.html?content=quiz", "?questions=Playing", "index.html?content=quiz&questions=Playing"),
        ("index.html?content=quiz", "&questions=Playing", "index.html?content=quiz&questions=Playing"),
        ("index.html#intro", "?questions=Playing", "index.html?questions=Playing#intro"),
        ("index.html", "#page3", "index.html#page3"),
    ],
)
def test_item_parameters_are_joined_to_the_launch_href_with_the_right_separator(
    href: str, parameters: str, launch: str
) -> None:
    with_parameters = item().replace("<item ", f'<item parameters="{parameters}" ')

    report = check(package(manifest(items=with_parameters, resources=resource(href=href))))

    assert report.scos[0].launch == launch


def test_a_long_launch_address_is_accepted_with_a_warning() -> None:
    href = "index.html?state=" + "x" * 2100

    assert (
        "2117 characters"
        in accepted_with(
            check(package(manifest(resources=resource(href=href)))), "P7-long-launch-url"
        ).message
    )


# --- P9: listed files ---------------------------------------------------------------------------------


def test_files_listed_in_the_manifest_but_missing_from_the_zip_give_a_warning_only() -> None:
    listed = resource(files=["index.html", "images/logo.png", "shared/style.css"])

    report = check(package(manifest(resources=listed)))

    assert "'images/logo.png', 'shared/style.css'" in accepted_with(report, "P9-listed-file-missing").message


# --- P10: versions and ranges -------------------------------------------------------------------------


def test_a_scorm12_mastery_score_is_reported_on_the_0_to_100_scale() -> None:
    mastered = item(inner="<adlcp:masteryscore>80</adlcp:masteryscore>")

    assert check(package(manifest(items=mastered))).mastery_score == 80.0


def sequenced_item(objective: str) -> str:
    return item(
        inner=f"<imsss:sequencing><imsss:objectives>{objective}</imsss:objectives></imsss:sequencing>"
    )


def test_a_scorm2004_min_normalized_measure_is_reported_as_a_percentage() -> None:
    objective = (
        '<imsss:primaryObjective satisfiedByMeasure="true">'
        "<imsss:minNormalizedMeasure>0.8</imsss:minNormalizedMeasure></imsss:primaryObjective>"
    )

    assert check(package(manifest("4th", items=sequenced_item(objective)))).mastery_score == 80.0


def test_a_scorm2004_measure_not_used_for_satisfaction_gives_no_mastery_score() -> None:
    objective = (
        "<imsss:primaryObjective><imsss:minNormalizedMeasure>0.8</imsss:minNormalizedMeasure>"
        "</imsss:primaryObjective>"
    )

    assert check(package(manifest("4th", items=sequenced_item(objective)))).mastery_score is None


def test_a_scorm2004_mastery_score_is_found_in_a_shared_sequencing_collection() -> None:
    shared = (
        f'<imsss:sequencingCollection xmlns:imsss="{IMSSS}"><imsss:sequencing ID="quiz_rules">'
        '<imsss:objectives><imsss:primaryObjective satisfiedByMeasure="true">'
        "<imsss:minNormalizedMeasure>0.75</imsss:minNormalizedMeasure></imsss:primaryObjective></imsss:objectives>"
        "</imsss:sequencing></imsss:sequencingCollection>"
    )
    uses_shared = item(inner='<imsss:sequencing IDRef="quiz_rules"/>')
    text = manifest("4th", items=uses_shared).replace("</manifest>", shared + "</manifest>")

    assert check(package(text)).mastery_score == 75.0


@pytest.mark.parametrize("score", ["150", "-5", "eighty"])
def test_an_out_of_range_scorm12_mastery_score_is_ignored_with_a_warning(score: str) -> None:
    report = check(package(manifest(items=item(inner=f"<adlcp:masteryscore>{score}</adlcp:masteryscore>"))))

    assert (
        f"'{score}', but must be a number from 0 to 100" in accepted_with(report, "P10-out-of-range").message
    )
    assert report.mastery_score is None


def test_an_out_of_range_min_normalized_measure_is_ignored_with_a_warning() -> None:
    objective = (
        '<imsss:primaryObjective satisfiedByMeasure="true">'
        "<imsss:minNormalizedMeasure>1.5</imsss:minNormalizedMeasure></imsss:primaryObjective>"
    )

    report = check(package(manifest("4th", items=sequenced_item(objective))))

    assert "from -1 to 1" in accepted_with(report, "P10-out-of-range").message
    assert report.mastery_score is None


def test_an_out_of_range_completion_threshold_gives_a_warning() -> None:
    threshold = f'<adlcp:completionThreshold xmlns:adlcp="{ADLCP2004}" minProgressMeasure="1.5"/>'

    report = check(package(manifest("4th", items=item(inner=threshold))))

    assert (
        "adlcp:minProgressMeasure of 'Lesson one' is '1.5'"
        in accepted_with(report, "P10-out-of-range").message
    )


def test_an_unknown_schemaversion_falls_back_to_namespaces_and_says_so() -> None:
    metadata = (
        "<metadata><schema>ADL SCORM</schema><schemaversion>2004 5th Edition</schemaversion></metadata>"
    )

    report = check(package(manifest("4th", metadata=metadata)))

    assert "SCORM 2004 (edition unknown)" in accepted_with(report, "P10-unknown-schemaversion").message
    assert (report.standard, report.edition) == ("scorm2004", None)


def test_a_scorm12_manifest_without_schemaversion_is_never_silently_taken_as_12() -> None:
    report = check(package(manifest("1.2", metadata="<metadata><schema>ADL SCORM</schema></metadata>")))

    assert (
        "judging by its XML namespaces it is SCORM 1.2"
        in accepted_with(report, "P10-unknown-schemaversion").message
    )


def test_namespace_prefixes_do_not_matter_only_their_uris() -> None:
    text = manifest("4th").replace("adlcp:", "cp:").replace("xmlns:adlcp=", "xmlns:cp=")

    report = check(package(text))

    assert (report.valid, report.edition, len(report.scos)) == (True, "4th", 1)


# --- the extraction plan ------------------------------------------------------------------------------


def test_an_extraction_plan_refuses_a_zip_that_differs_from_the_validated_one() -> None:
    report = check(package(manifest()))
    hostile = package(manifest(), extra=[RawEntry("../evil.txt", b"x")])

    with zipfile.ZipFile(io.BytesIO(hostile)) as zf, pytest.raises(ValueError, match="not the one"):
        plan_extraction(zf, report)


def test_folder_entries_are_left_out_of_the_extraction_plan() -> None:
    data = package(manifest(), extra=[RawEntry("shared/", b"", method=STORED), RawEntry("shared/a.css", b"")])
    report = check(data)

    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        plan = plan_extraction(zf, report)

    assert [target for _, target in plan] == ["imsmanifest.xml", "index.html", "shared/a.css"]
    assert all(isinstance(info, zipfile.ZipInfo) for info, _ in plan)


# --- the JSON shape -----------------------------------------------------------------------------------


def test_the_json_report_has_exactly_the_documented_keys_and_code_message_problems() -> None:
    report = validate_package(INVALID / "missing_launch_file.zip").to_json_dict()

    assert set(report) == {
        "valid",
        "standard",
        "edition",
        "title",
        "scos",
        "mastery_score",
        "organization",
        "warnings",
        "errors",
    }
    assert [(s["identifier"], s["title"], s["launch"], s["type"]) for s in report["scos"]] == [
        ("item1", "SCO", "shared/launchpage.html", "sco")
    ]
    assert report["errors"][0]["code"] == "P8-launch-case-mismatch"
    assert set(report["errors"][0]) == {"code", "message"}
    assert json.loads(json.dumps(report)) == report


# --- scormhub package check ---------------------------------------------------------------------------


def test_package_check_prints_one_json_object_and_exits_0_for_a_valid_package() -> None:
    out = io.StringIO()

    status = run_package_check(str(VALID / "RuntimeMinimumCalls_SCORM12.zip"), as_json=True, out=out)

    printed = json.loads(out.getvalue())
    assert status == 0
    assert set(printed) == {
        "valid",
        "standard",
        "edition",
        "title",
        "scos",
        "mastery_score",
        "organization",
        "warnings",
        "errors",
    }
    assert (printed["valid"], printed["standard"], len(printed["scos"])) == (True, "scorm12", 18)


def test_package_check_exits_1_and_lists_the_errors_for_an_invalid_package() -> None:
    out = io.StringIO()

    status = run_package_check(str(INVALID / "zip_slip.zip"), as_json=True, out=out)

    assert status == 1
    assert "Z3-parent-folder" in {error["code"] for error in json.loads(out.getvalue())["errors"]}


def test_package_check_exits_2_and_says_so_when_the_file_cannot_be_opened(tmp_path: Path) -> None:
    out = io.StringIO()

    status = run_package_check(str(tmp_path / "missing.zip"), as_json=False, out=out)

    assert status == 2
    assert f"Can't open {tmp_path / 'missing.zip'}" in out.getvalue()


def test_package_check_json_for_an_unopenable_file_is_still_one_report_object(tmp_path: Path) -> None:
    out = io.StringIO()

    status = run_package_check(str(tmp_path), as_json=True, out=out)

    printed = json.loads(out.getvalue())
    assert status == 2
    assert (printed["valid"], printed["errors"][0]["code"]) == (False, "file-unreadable")


def test_package_check_prints_a_readable_report_with_title_edition_scos_and_warnings() -> None:
    out = io.StringIO()

    status = run_package_check(str(INVALID / "nested_manifest.zip"), as_json=False, out=out)

    text = out.getvalue()
    assert status == 0
    assert "Result:   valid" in text
    assert "Title:    Invalid test: nested" in text
    assert "Standard: SCORM 1.2" in text
    assert "launches index.html" in text
    assert "Warnings (1):" in text
    assert "[P1-manifest-in-folder]" in text


def test_package_check_names_the_2004_edition_and_the_errors_of_an_invalid_package() -> None:
    out = io.StringIO()
    golf = VALID / "SequencingPostTestRollup4thEd_SCORM20044thEdition.zip"

    assert run_package_check(str(golf), as_json=False, out=out) == 0
    assert "Standard: SCORM 2004 4th Edition" in out.getvalue()
    assert "Outline (5 SCOs to launch):" in out.getvalue()

    out = io.StringIO()
    assert run_package_check(str(INVALID / "missing_launch_file.zip"), as_json=False, out=out) == 1
    assert "Errors (1):" in out.getvalue()
    assert "NOT valid" in out.getvalue()
