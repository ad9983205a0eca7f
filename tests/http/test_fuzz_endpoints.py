"""Generated hostile bodies against the two endpoints that take machine input without a person in the loop:
SCORM Cloud's postback (/hooks/scorm-cloud/{workspace}) and the built-in player's commit
(/play/{token}/commit). Whatever arrives: never a 500, and the enrollment afterwards still loads with valid
values (completion and success from their enums, a score within 0..100 or none, sane times and counts).

One app and one world serve the whole module (hypothesis runs many examples per test; function-scoped
fixtures would be shared between them anyway), and each example checks the invariants itself.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import respx
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from litestar import Litestar
from two_workspaces import (
    GOLF_12,
    PACKAGES,
    client_for,
    empty_database,
    settings_for,
    standalone_workspace,
    upload_ready_course,
)

from appserver import CONTENT, login_link_token, serving
from scormhub.app import create_app
from scormhub.domain import enrollments as cases
from scormhub.domain.model import EngineAccount, Enrollment
from scormhub.domain.scorm.cmi import Completion, Success
from scormhub.domain.scorm.sessions import resume_cmi
from scormhub.integrations.clock import SystemClock
from scormhub.integrations.db.tables import InboxRow
from scormhub.integrations.db.uow import PiccoloUnitOfWork
from scormhub.integrations.local_crm import LocalContactBook
from scormhub.jobs.postbacks import process_inbox

GOLF_2004 = PACKAGES / "valid" / "RuntimeBasicCalls_SCORM20043rdEdition.zip"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "scorm_cloud"
CLOUD = "http://127.0.0.1:9/api/v2"  # settings_for's SCORM Cloud address; respx answers for it here
POSTBACK_USER, POSTBACK_PASSWORD = "scormhub-fuzz", "fuzz-password-0123456789"
FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


@dataclass
class FuzzWorld:
    app: Litestar
    workspace_id: str
    learners: dict[str, Enrollment]  # "1.2" / "2004" → an enrollment on a course of that standard


@pytest.fixture(scope="module")
async def world(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[FuzzWorld]:
    await empty_database(database_url)
    app = create_app(settings_for(tmp_path_factory.mktemp("fuzz")))
    async with serving(app):
        await login_link_token()
        workspace = await standalone_workspace()
        session = app.state.deps.sessions.issue(workspace.id)
        learners = {}
        for label, package in (("1.2", GOLF_12), ("2004", GOLF_2004)):
            course = await upload_ready_course(app, session, f"Fuzz {label}", package)
            book = LocalContactBook(workspace.id)
            contact = await book.upsert_contact(
                first_name="Fuzz", last_name=label, email=f"fuzz{label}@example.com"
            )
            enrolled = await cases.enroll_contact(
                workspace.id,
                course.id,
                contact.id,
                uow=PiccoloUnitOfWork(),
                contacts=book,
                clock=SystemClock(),
            )
            learners[label] = enrolled.enrollment
            ENROLLMENT_IDS.append(str(enrolled.enrollment.id))
        deps = app.state.deps
        async with PiccoloUnitOfWork() as uow:
            await uow.engine_accounts.save(
                EngineAccount(
                    workspace_id=workspace.id,
                    app_id="FUZZ",
                    secret_key_enc=deps.cipher.encrypt("secret"),
                    postback_user=POSTBACK_USER,
                    postback_password_enc=deps.cipher.encrypt(POSTBACK_PASSWORD),
                    connected_at=deps.clock.now(),
                )
            )
            await uow.commit()
        yield FuzzWorld(app, str(workspace.id), learners)


async def assert_not_corrupted(world: FuzzWorld) -> None:
    """Every enrollment still loads, with values the pages, exports and CRM sync can rely on."""
    async with PiccoloUnitOfWork() as uow:
        for original in world.learners.values():
            e = await uow.enrollments.get(original.workspace_id, original.id)
            assert e is not None, "the enrollment still exists"
            assert isinstance(e.completion, Completion)
            assert isinstance(e.success, Success)
            assert e.score_percent is None or (math.isfinite(e.score_percent) and 0 <= e.score_percent <= 100)
            assert e.score_raw is None or math.isfinite(e.score_raw)
            assert math.isfinite(e.total_seconds)
            assert e.total_seconds >= 0
            assert isinstance(e.attempts, int)
            assert e.attempts >= 0
            assert e.completed_at is None or e.completion is Completion.COMPLETED
            for moment in (e.first_access_at, e.last_access_at, e.completed_at):
                assert moment is None or moment.tzinfo is not None
            for state in (await uow.sco_states.for_enrollment(e.id)).values():
                json.dumps(resume_cmi(state))  # what the player is given on resume


# --- the postback ------------------------------------------------------------------------------------------

TEXT = st.text(max_size=40)
JUNK: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**20), 10**20) | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)


def registrations(enrollment_ids: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Bodies shaped like SCORM Cloud's RegistrationSchema, with every field liable to be wrong."""
    return st.fixed_dictionaries(
        {"id": st.sampled_from(enrollment_ids) | JUNK},
        optional={
            "registrationCompletion": st.sampled_from(["COMPLETED", "INCOMPLETE", "UNKNOWN"]) | JUNK,
            "registrationSuccess": st.sampled_from(["PASSED", "FAILED", "UNKNOWN"]) | JUNK,
            "score": st.fixed_dictionaries({}, optional={"scaled": JUNK}) | JUNK,
            "totalSecondsTracked": st.floats(allow_nan=False) | JUNK,
            "updated": st.sampled_from(["2026-11-22T12:00:00.000Z", "yesterday", ""]) | JUNK,
            "instance": st.integers(-5, 10**12) | JUNK,
            "activityDetails": JUNK,
            "learner": st.fixed_dictionaries({"id": JUNK, "firstName": TEXT}),
        },
    ).flatmap(lambda base: st.dictionaries(TEXT, JUNK, max_size=3).map(lambda extra: {**extra, **base}))


FORM_TYPES = st.sampled_from(
    [
        "application/x-www-form-urlencoded; charset=UTF-8",
        "application/x-www-form-urlencoded",
        "APPLICATION/X-WWW-FORM-URLENCODED",
    ]
)
OTHER_TYPES = st.sampled_from(
    [
        "application/json; charset=UTF-8",
        "application/json",
        "text/xml",
        "application/xml; charset=ISO-8859-1",
        "text/plain",
        "multipart/form-data; boundary=xyz",
        "",
        "application/x-www-form-urlencoded; charset=UTF-16",
    ]
) | st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60)


def xml_report(registration: dict[str, Any]) -> str:
    rid = str(registration.get("id")).replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
    return (
        f'<?xml version="1.0"?><registrationreport format="course" regid="{rid}" instanceid="0">'
        "<complete>complete</complete><success>passed</success><totaltime>19</totaltime><score>85</score>"
        "</registrationreport>"
    )


def deep_json(depth: int) -> str:
    return "[" * depth + "]" * depth


@st.composite
def postbacks(draw: st.DrawFn, enrollment_ids: list[str]) -> tuple[str, bytes]:
    """(content type, body) in every shape SCORM Cloud uses, and shapes it never should."""
    registration = draw(registrations(enrollment_ids))
    shape = draw(st.sampled_from(["form", "json", "xml", "form with xml", "deep", "bytes", "nul"]))
    if shape == "form":
        fields = {"data": json.dumps(registration), "userName": draw(TEXT), "password": draw(TEXT)}
        return draw(FORM_TYPES), urlencode(fields).encode()
    if shape == "json":
        return draw(OTHER_TYPES), json.dumps(registration).encode()
    if shape == "xml":
        return "text/xml", xml_report(registration).encode()
    if shape == "form with xml":
        return draw(FORM_TYPES), urlencode({"data": xml_report(registration)}).encode()
    if shape == "deep":
        inner = deep_json(draw(st.integers(min_value=500, max_value=100_000)))
        wrapped = draw(st.sampled_from(['{"id": %s}', "%s", '{"data": %s}']))
        body = wrapped % inner
        if draw(st.booleans()):
            return draw(FORM_TYPES), urlencode({"data": body}).encode()
        return "application/json", body.encode()
    if shape == "nul":
        return draw(OTHER_TYPES), json.dumps(registration).encode().replace(b'"', b'"\x00', 1)
    return draw(OTHER_TYPES), draw(st.binary(max_size=2048))


def registration_from_cloud(request: httpx.Request) -> httpx.Response:
    """SCORM Cloud's answer for any registration: the completed fixture, under the id asked for."""
    registration = json.loads((FIXTURES / "registration_completed.json").read_text())
    registration["id"] = request.url.path.rsplit("/", 1)[-1]
    return httpx.Response(200, json=registration)


async def unprocessed_postbacks() -> int:
    return int(await InboxRow.count().where(InboxRow.processed_at.is_null()))


@pytest.fixture(scope="module")
def cloud() -> respx.MockRouter:
    router = respx.mock(assert_all_called=False, assert_all_mocked=True)
    router.get(url__regex=rf"^{re.escape(CLOUD)}/registrations/[^/?]+(\?.*)?$").mock(
        side_effect=registration_from_cloud
    )
    return router


ENROLLMENT_IDS: list[str] = []  # filled by the world fixture; hypothesis draws ids from it lazily
STATUSES: dict[str, list[int]] = {"postback": [], "commit": []}


@FUZZ
@given(postback=st.deferred(lambda: postbacks(ENROLLMENT_IDS)), basic=st.booleans())
@example(postback=("application/json", deep_json(5_000).encode()), basic=True)
@example(postback=("application/json", b'{"id": "a\x00b"}'), basic=True)
@example(postback=("application/x-www-form-urlencoded", b"data=%7B%22id%22%3A%22%00%22%7D"), basic=True)
async def test_fuzzed_postbacks_are_acknowledged_stored_and_processed_without_corrupting_anything(
    world: FuzzWorld, cloud: respx.MockRouter, postback: tuple[str, bytes], basic: bool
) -> None:
    content_type, body = postback
    async with client_for(world.app) as sender:
        if basic:
            response = await sender.post(
                f"/hooks/scorm-cloud/{world.workspace_id}",
                content=body,
                headers={"content-type": content_type},
                auth=(POSTBACK_USER, POSTBACK_PASSWORD),
            )
        else:
            # SCORM Cloud's default "form" auth: the credentials are fields of the form itself.
            form = urlencode({"userName": POSTBACK_USER, "password": POSTBACK_PASSWORD}).encode()
            response = await sender.post(
                f"/hooks/scorm-cloud/{world.workspace_id}",
                content=form + b"&" + body,
                headers={"content-type": "application/x-www-form-urlencoded"},
            )
    STATUSES["postback"].append(response.status_code)
    assert response.status_code == 200, (response.status_code, response.text[:200])
    with cloud:
        await process_inbox({"deps": world.app.state.deps}, workspace_id=world.workspace_id)
    assert await unprocessed_postbacks() == 0, "every stored postback is processed"
    await assert_not_corrupted(world)


# --- the commit ---------------------------------------------------------------------------------------------

CMI_NAMES = (
    st.sampled_from(
        [
            "cmi",
            "core",
            "lesson_status",
            "lesson_location",
            "score",
            "raw",
            "min",
            "max",
            "scaled",
            "session_time",
            "exit",
            "suspend_data",
            "completion_status",
            "success_status",
            "progress_measure",
            "location",
            "interactions",
            "objectives",
            "comments",
            "comments_from_learner",
            "student_preference",
            "learner_preference",
            "total_time",
            "entry",
            "_children",
            "_count",
            "0",
            "1",
            "9999",
            "id",
            "type",
            "result",
            "runtimeData",
            "__proto__",
            "constructor",
            "",
        ]
    )
    | TEXT
)
NUMBERISH = st.sampled_from(
    [
        "85",
        "-1",
        "100.0000001",
        "1e309",
        "-1e309",
        "NaN",
        "Infinity",
        "0x10",
        "\uff11\uff10\uff10",  # full-width digits
        " 50 ",
        "-0",
        ".5",
        "5.",
        "",
    ]
)
LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | NUMBERISH
    | st.sampled_from(["passed", "failed", "completed", "incomplete", "browsed", "not attempted", "unknown"])
    | st.sampled_from(
        ["suspend", "logout", "normal", "time-out", "PT1H", "0000:01:30.00", "P-1D", "PT99999999H"]
    )
    | st.text(max_size=60)
    | st.integers(min_value=4_000, max_value=70_000).map(lambda n: "x" * n)
    | st.sampled_from(["\x00", "a\x00b", "\u202e", "🎓" * 100, "<script>alert(1)</script>"])
)
CMI = st.recursive(
    LEAVES,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(CMI_NAMES, inner, max_size=6),
    max_leaves=40,
)


@st.composite
def commits(draw: st.DrawFn) -> Any:
    """A commit body: scorm-again's shapes (bare, {"cmi"}, {"runtimeData"}) filled with junk, or worse."""
    tree = draw(st.dictionaries(CMI_NAMES, CMI, max_size=8))
    core = draw(
        st.dictionaries(
            st.sampled_from(["lesson_status", "score", "session_time", "exit", "lesson_location"]), CMI
        )
    )
    shaped = {**tree, "core": core} if draw(st.booleans()) else tree
    wrap = draw(st.sampled_from(["bare", "cmi", "runtimeData", "list", "scalar"]))
    if wrap == "cmi":
        return {"cmi": shaped}
    if wrap == "runtimeData":
        return {"runtimeData": {"cmi": shaped}}
    if wrap == "list":
        return [shaped]
    if wrap == "scalar":
        return draw(LEAVES)
    return shaped


def encoded(body: Any, allow_nan: bool) -> bytes:
    try:
        return json.dumps(body, allow_nan=allow_nan).encode()
    except ValueError:
        return json.dumps(body, allow_nan=True).encode()


@FUZZ
@given(
    which=st.sampled_from(["1.2", "2004"]),
    body=commits(),
    final=st.booleans(),
    strict_json=st.booleans(),
    session=st.sampled_from(["launched", "made up", "empty", "nul", "surrogate", "not utf-8"]),
    sco=st.sampled_from(["launched", "made up"]),
)
@example(
    which="1.2",
    body={"suspend_data": "a\x00b"},
    final=False,
    strict_json=True,
    session="launched",
    sco="launched",
)
@example(
    which="2004", body={"location": "\x00"}, final=False, strict_json=True, session="launched", sco="launched"
)
@example(
    which="1.2",
    body={"core": {"lesson_status": "passed"}},
    final=True,
    strict_json=True,
    session="nul",
    sco="launched",
)
async def test_fuzzed_commits_never_fail_the_server_nor_corrupt_the_enrollment(
    world: FuzzWorld, which: str, body: Any, final: bool, strict_json: bool, session: str, sco: str
) -> None:
    enrollment = world.learners[which]
    async with client_for(world.app) as learner:
        page = await learner.get(f"{CONTENT}/play/{enrollment.launch_token}")
        assert page.status_code == 200, "the player still opens"
        found = re.search(r'id="player-config">(.*?)</script>', page.text, re.S)
        assert found is not None
        url = json.loads(found.group(1))["commitUrl"]
        if session != "launched":
            forged = {
                "made up": "session=forged",
                "empty": "session=",
                "nul": "session=%00",
                "surrogate": "session=%ED%A0%80",
                "not utf-8": "session=%FF%FE",
            }[session]
            url = re.sub(r"session=[^&]*", forged, url)
        if sco == "made up":
            url = re.sub(r"sco=[^&]*", "sco=no-such-sco", url)
        response = await learner.post(
            url + ("&final=true" if final else ""),
            content=encoded(body, allow_nan=not strict_json),
            headers={"content-type": "application/json"},
        )
    STATUSES["commit"].append(response.status_code)
    assert response.status_code in (200, 400, 404, 409, 413), (response.status_code, response.text[:300])
    reply = response.json()
    assert isinstance(reply, dict)
    assert "errorCode" in reply
    await assert_not_corrupted(world)


async def test_the_fuzzing_reached_the_code_behind_the_checks(world: FuzzWorld) -> None:
    assert len(STATUSES["postback"]) >= 50
    assert STATUSES["commit"].count(200) >= 10, STATUSES["commit"]
    session = world.app.state.deps.sessions.issue(world.learners["1.2"].workspace_id)
    async with client_for(world.app, cookie=session) as admin:
        for enrollment in world.learners.values():
            table = await admin.get(
                f"/app/courses/{enrollment.course_id}/enrollments", headers={"HX-Request": "true"}
            )
            assert table.status_code == 200, "the enrolled table still renders every learner"
            assert (await admin.get(f"/app/contacts/{enrollment.contact_id}")).status_code == 200


async def test_a_commit_over_the_size_limit_is_refused_before_it_is_read(world: FuzzWorld) -> None:
    enrollment = world.learners["2004"]
    async with client_for(world.app) as learner:
        response = await learner.post(
            f"/play/{enrollment.launch_token}/commit?sco=x&session=y",
            content=b'{"suspend_data": "' + b"x" * (300 * 1024) + b'"}',
            headers={"content-type": "application/json"},
        )

    assert response.status_code == 413
    await assert_not_corrupted(world)


async def test_a_nul_character_drops_only_the_value_that_holds_it(world: FuzzWorld) -> None:
    enrollment = world.learners["1.2"]
    async with client_for(world.app) as learner:
        page = await learner.get(f"{CONTENT}/play/{enrollment.launch_token}")
        found = re.search(r'id="player-config">(.*?)</script>', page.text, re.S)
        assert found is not None
        url = json.loads(found.group(1))["commitUrl"]
        response = await learner.post(
            url, json={"core": {"lesson_location": "page 7"}, "suspend_data": "before\x00after"}
        )

    assert response.status_code == 200
    assert response.json()["rejected"] == [
        "cmi.suspend_data: contains a NUL character, which can't be stored"
    ]
    async with PiccoloUnitOfWork() as uow:
        states = await uow.sco_states.for_enrollment(enrollment.id)
    assert any(state.location == "page 7" for state in states.values())
