"""The manifest model the checker and the player share: the whole outline, each item's launch data."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from xml.etree.ElementTree import fromstring

import pytest
from zipfactory import ADLCP12, ADLCP2004, IMSSS, RawEntry, build_zip, item, manifest, package, resource

from scormhub.domain.scorm.archive import validate_package
from scormhub.domain.scorm.organization import Organization
from scormhub.domain.scorm.package import PackageReport
from scormhub.package_check import run_package_check
from shared_packages import PACKAGES

ADLNAV = "http://www.adlnet.org/xsd/adlnav_v1p3"


def check(data: bytes) -> PackageReport:
    return validate_package(io.BytesIO(data))


def tree(report: PackageReport) -> Organization:
    assert report.organization is not None, report.errors
    return report.organization


# --- the outline --------------------------------------------------------------------------------------


def test_a_scorm12_parent_item_that_launches_content_is_kept_and_launchable_before_its_children() -> None:
    # eXeLearning: every page is an item, and a page with sub-pages still has its own content.
    outline = item("chapter", "res_chapter", "Chapter", inner=item("page", "res_page", "Page"))
    resources = resource("res_chapter", "chapter.html") + resource("res_page", "page.html")
    files = {"chapter.html": b"<p>1</p>", "page.html": b"<p>2</p>"}

    report = check(package(manifest(items=outline, resources=resources), files))

    assert report.valid, report.errors
    assert "P4-parent-item-launches" not in {p.code for p in report.warnings}
    assert [(s.identifier, s.launch) for s in report.scos] == [
        ("chapter", "chapter.html"),
        ("page", "page.html"),
    ]
    chapter = tree(report).items[0]
    assert [child.identifier for child in chapter.children] == ["page"]


def test_asset_items_are_launchable_beside_scos_and_say_what_they_are() -> None:
    outline = item("intro", "res_intro", "Introduction") + item("lesson", "res_lesson", "Lesson")
    resources = resource("res_intro", "intro.html", kind="asset") + resource("res_lesson", "lesson.html")
    files = {"intro.html": b"", "lesson.html": b""}

    report = check(package(manifest(items=outline, resources=resources), files))

    assert report.valid, report.errors
    assert [(s.identifier, s.scorm_type) for s in report.scos] == [("intro", "asset"), ("lesson", "sco")]
    assert "P6-asset-only" not in {p.code for p in report.warnings}


def test_the_launch_address_joins_the_manifest_resources_and_resource_xml_base_before_the_href() -> None:
    resources = resource("res1", "start.html?x=1", attributes='xml:base="lesson1/"')
    xml = manifest(items=item(inner=""), resources=resources, root_attributes='xml:base="course/"')
    xml = xml.replace("<resources>", '<resources xml:base="content/">')
    outline = item().replace("<item ", '<item parameters="?lang=en" ')
    xml = xml.replace(item(), outline)

    report = check(package(xml, {"course/content/lesson1/start.html": b""}))

    assert report.valid, report.errors
    assert report.scos[0].launch == "course/content/lesson1/start.html?x=1&lang=en"
    only = tree(report).items[0]
    assert (only.parameters, only.resource, only.launch) == ("?lang=en", "res1", report.scos[0].launch)


def test_items_keep_their_visibility_and_their_nesting() -> None:
    hidden = item("b", title="Hidden").replace("<item ", '<item isvisible="false" ')
    outline = f'<item identifier="module"><title>Module</title>{item("a")}{hidden}</item>'

    report = check(package(manifest(items=outline)))

    module = tree(report).items[0]
    assert [(c.identifier, c.visible, c.launchable) for c in module.children] == [
        ("a", True, True),
        ("b", False, True),
    ]
    assert module.launchable is False


def test_a_scorm12_manifest_may_share_its_identifier_with_its_organization() -> None:
    xml = manifest().replace('identifier="test.manifest"', 'identifier="org1"')

    report = check(package(xml))

    assert report.valid, report.errors
    assert "P4-duplicate-identifier" not in {p.code for p in report.errors + report.warnings}


def test_two_items_sharing_an_identifier_are_still_refused() -> None:
    report = check(package(manifest(items=item("same") + item("same"))))

    assert "P4-duplicate-identifier" in {p.code for p in report.errors}


def test_a_course_zipped_in_its_folder_is_told_so_even_when_a_file_name_is_also_refused() -> None:
    entries = [
        RawEntry("MyCourse/imsmanifest.xml", manifest().encode()),
        RawEntry("MyCourse/index.html", b"<html>lesson</html>"),
        RawEntry("MyCourse/notes\x01.txt", b"hidden name"),
    ]

    report = check(build_zip(entries))

    assert "Z3-control-character" in {p.code for p in report.errors}
    (folder,) = [p for p in report.warnings if p.code == "P1-manifest-in-folder"]
    assert "'MyCourse'" in folder.message


# --- per-item launch data -----------------------------------------------------------------------------


def test_scorm12_item_launch_data_is_read_per_item() -> None:
    inner = (
        f'<adlcp:datafromlms xmlns:adlcp="{ADLCP12}">level=2</adlcp:datafromlms>'
        f'<adlcp:masteryscore xmlns:adlcp="{ADLCP12}">75</adlcp:masteryscore>'
        f'<adlcp:maxtimeallowed xmlns:adlcp="{ADLCP12}">00:30:00</adlcp:maxtimeallowed>'
        f'<adlcp:timelimitaction xmlns:adlcp="{ADLCP12}">exit,message</adlcp:timelimitaction>'
    )

    report = check(package(manifest(items=item(inner=inner))))

    sco = report.scos[0]
    assert (sco.data_from_lms, sco.mastery_score, sco.max_time_allowed, sco.time_limit_action) == (
        "level=2",
        75.0,
        "00:30:00",
        "exit,message",
    )
    assert report.mastery_score == 75.0


def test_a_negative_mastery_score_is_a_clear_warning_and_is_not_used() -> None:
    inner = f'<adlcp:masteryscore xmlns:adlcp="{ADLCP12}">-50</adlcp:masteryscore>'

    report = check(package(manifest(items=item(inner=inner))))

    assert report.valid
    (problem,) = [p for p in report.warnings if p.code == "P10-out-of-range"]
    assert "'-50'" in problem.message
    assert "from 0 to 100" in problem.message
    assert report.mastery_score is None
    assert report.scos[0].mastery_score is None


def scorm2004_item(inner: str) -> str:
    return item(inner=inner)


@pytest.mark.parametrize(
    ("threshold", "expected"),
    [
        ("<adlcp:completionThreshold>0.6</adlcp:completionThreshold>", 0.6),  # 3rd Edition
        ('<adlcp:completionThreshold completedByMeasure="true" minProgressMeasure="0.7"/>', 0.7),  # 4th
        ('<adlcp:completionThreshold completedByMeasure="true"/>', 1.0),  # 4th, the default measure
        ('<adlcp:completionThreshold progressWeight="0.4"/>', None),  # not completed by measure
    ],
)
def test_scorm2004_completion_threshold_is_read_from_the_element_or_its_attributes(
    threshold: str, expected: float | None
) -> None:
    resources = resource(version="4th", files=["index.html"])

    report = check(package(manifest("4th", items=scorm2004_item(threshold), resources=resources)))

    assert report.valid, report.errors
    assert report.scos[0].completion_threshold == expected


def test_scorm2004_objectives_data_from_lms_time_limits_and_hidden_lms_ui_are_read() -> None:
    inner = (
        f'<adlcp:dataFromLMS xmlns:adlcp="{ADLCP2004}">chapter=3</adlcp:dataFromLMS>'
        f'<adlcp:timeLimitAction xmlns:adlcp="{ADLCP2004}">continue,no message</adlcp:timeLimitAction>'
        f'<imsss:sequencing xmlns:imsss="{IMSSS}">'
        '<imsss:limitConditions attemptAbsoluteDurationLimit="PT1H"/>'
        "<imsss:objectives>"
        '<imsss:primaryObjective objectiveID="main" satisfiedByMeasure="true">'
        "<imsss:minNormalizedMeasure>0.6</imsss:minNormalizedMeasure></imsss:primaryObjective>"
        '<imsss:objective objectiveID="side"/>'
        "</imsss:objectives></imsss:sequencing>"
        f'<adlnav:presentation xmlns:adlnav="{ADLNAV}"><adlnav:navigationInterface>'
        "<adlnav:hideLMSUI>continue</adlnav:hideLMSUI><adlnav:hideLMSUI>previous</adlnav:hideLMSUI>"
        "</adlnav:navigationInterface></adlnav:presentation>"
    )
    resources = resource(version="4th", files=["index.html"])

    report = check(package(manifest("4th", items=scorm2004_item(inner), resources=resources)))

    assert report.valid, report.errors
    sco = report.scos[0]
    assert (sco.data_from_lms, sco.time_limit_action, sco.max_time_allowed) == (
        "chapter=3",
        "continue,no message",
        "PT1H",
    )
    assert (sco.scaled_passing_score, sco.objective_ids) == (0.6, ("main", "side"))
    assert report.mastery_score == 60.0
    only = tree(report).items[0]
    assert only.hide_lms_ui == ("continue", "previous")
    assert only.sequencing_xml is not None
    assert "limitConditions" in only.sequencing_xml


def test_shared_sequencing_is_kept_by_idref_and_its_objectives_reach_the_item() -> None:
    collection = (
        f'<imsss:sequencingCollection xmlns:imsss="{IMSSS}"><imsss:sequencing ID="shared">'
        '<imsss:objectives><imsss:primaryObjective objectiveID="from_collection"/></imsss:objectives>'
        "</imsss:sequencing></imsss:sequencingCollection>"
    )
    resources = resource(version="4th", files=["index.html"])
    xml = manifest("4th", items=item(inner='<imsss:sequencing IDRef="shared"/>'), resources=resources)
    xml = xml.replace("</manifest>", f"{collection}</manifest>")

    report = check(package(xml))

    assert report.valid, report.errors
    only = tree(report).items[0]
    assert only.sequencing_idref == "shared"
    assert "shared" in tree(report).sequencing_collection
    assert report.scos[0].objective_ids == ("from_collection",)


def test_a_sequencing_idref_that_names_nothing_is_an_error_naming_it() -> None:
    resources = resource(version="4th", files=["index.html"])
    xml = manifest("4th", items=item(inner='<imsss:sequencing IDRef="ghost"/>'), resources=resources)

    report = check(package(xml))

    assert not report.valid
    (problem,) = [p for p in report.errors if p.code == "P4-unresolved-sequencing-idref"]
    assert "'ghost'" in problem.message


# --- the checker's JSON on the shared packages ----------------------------------------------------------


def launchable_items_in(zip_path: Path) -> list[str]:
    """Read independently of the validator: every item of the default organization with a resource."""
    with zipfile.ZipFile(zip_path) as zf:
        root = fromstring(zf.read("imsmanifest.xml"))
    ns = root.tag[1:].partition("}")[0]
    organizations = root.find(f"{{{ns}}}organizations")
    assert organizations is not None
    default = organizations.get("default")
    organization = next(o for o in organizations if o.get("identifier") == default)
    return [i.get("identifier", "") for i in organization.iter(f"{{{ns}}}item") if i.get("identifierref")]


def json_items(nodes: list[dict[str, object]]) -> list[dict[str, object]]:
    found: list[dict[str, object]] = []
    for node in nodes:
        found.append(node)
        children = node["children"]
        assert isinstance(children, list)
        found.extend(json_items(children))
    return found


@pytest.mark.parametrize("zip_path", sorted((PACKAGES / "valid").glob("*.zip")), ids=lambda p: p.name)
def test_the_checker_json_of_each_shared_package_lists_every_launchable_item_in_its_tree(
    zip_path: Path,
) -> None:
    out = io.StringIO()

    status = run_package_check(str(zip_path), as_json=True, out=out)

    printed = json.loads(out.getvalue())
    expected = launchable_items_in(zip_path)
    assert status == 0, printed["errors"]
    assert [s["identifier"] for s in printed["scos"]] == expected
    in_tree = [i["identifier"] for i in json_items(printed["organization"]["items"]) if i["launch"]]
    assert in_tree == expected
    assert all(s["type"] in {"sco", "asset"} and s["launch"] for s in printed["scos"])


@pytest.mark.parametrize("zip_path", sorted((PACKAGES / "valid").glob("*.zip")), ids=lambda p: p.name)
def test_the_tree_survives_its_json_form_unchanged(zip_path: Path) -> None:
    organization = tree(validate_package(zip_path))

    assert Organization.from_json_dict(json.loads(json.dumps(organization.to_json_dict()))) == organization
