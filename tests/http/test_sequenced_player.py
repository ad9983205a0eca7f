"""The built-in player on sequenced SCORM 2004 courses over HTTP: the contents and buttons the rules
allow, navigation requests, the state on the server, relaunch, two tabs and bad requests."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from litestar import Litestar
from test_player_tracking import commit, current, enrolled, launch

from appserver import CONTENT
from scormhub.domain.scorm.cmi import Completion, Success
from scormhub.integrations.db.uow import PiccoloUnitOfWork
from shared_packages import PACKAGES

FORCED = PACKAGES / "valid" / "SequencingForcedSequential_SCORM20043rdEdition.zip"
POST_TEST_4TH = PACKAGES / "valid" / "SequencingPostTestRollup4thEd_SCORM20044thEdition.zip"
DONE = {"completion_status": "completed", "success_status": "passed", "exit": "suspend"}


async def nav(
    client: httpx.AsyncClient, config: dict[str, Any], request: str, **extra: Any
) -> httpx.Response:
    return await client.post(config["navUrl"], json={"request": request, **extra})


async def test_forced_sequential_offers_only_what_the_rules_allow_and_refuses_a_jump_ahead(
    admin: httpx.AsyncClient, app: Litestar
) -> None:
    enrollment = await enrolled(admin, app, FORCED)
    config = await launch(admin, enrollment.launch_token)

    assert config["sco"] == "playing_item"
    view = config["sequencing"]
    assert view["choice"]["etuqiette_item"] is False
    assert view["continue"] is False  # disabled until Playing is satisfied
    refused = await nav(admin, config, "choice", target="handicapping_item")
    assert refused.status_code == 409
    assert "not available" in refused.json()["message"]
    again = await launch(admin, enrollment.launch_token)
    assert again["sco"] == "playing_item"  # the state on the server is unchanged

    assert (await commit(admin, again, {"cmi": DONE})).status_code == 200
    moved = await nav(admin, again, "continue")
    assert moved.status_code == 200, moved.text
    assert moved.json()["deliver"] == "etuqiette_item"
    page = await admin.get(f"{CONTENT}/play/{enrollment.launch_token}")
    assert 'value="etuqiette_item" aria-current="step" disabled>Etiquette' in page.text
    assert 'value="handicapping_item" disabled>Handicapping' in page.text
    view = await admin.get(again["navUrl"])
    assert view.json()["sequencing"]["current"] == "etuqiette_item"
    assert "Passed" in page.text  # Playing the Game's status in the contents


async def test_the_post_test_decides_the_course_result(admin: httpx.AsyncClient, app: Litestar) -> None:
    enrollment = await enrolled(admin, app, POST_TEST_4TH)
    config = await launch(admin, enrollment.launch_token)
    for _ in range(4):  # the four content SCOs, in order
        await commit(
            admin, config, {"cmi": {"completion_status": "completed", "exit": "suspend"}}, final=True
        )
        answer = await nav(admin, config, "continue")
        assert answer.status_code == 200, answer.text
        config = await launch(admin, enrollment.launch_token)
    assert config["sco"] == "assessment_item"
    failed = {"completion_status": "completed", "success_status": "failed", "score": {"scaled": "0.4"}}
    await commit(admin, config, {"cmi": failed}, final=True)

    row = await current(enrollment)
    assert row.completion is Completion.COMPLETED
    assert row.success is Success.FAILED
    assert row.score_percent == 40


async def test_closing_mid_way_reopens_the_same_activity_and_suspend_all_resumes_it(
    admin: httpx.AsyncClient, app: Litestar
) -> None:
    enrollment = await enrolled(admin, app, FORCED)
    config = await launch(admin, enrollment.launch_token)
    await commit(admin, config, {"cmi": DONE}, final=True)
    await nav(admin, config, "continue")

    reopened = await launch(admin, enrollment.launch_token)  # the tab was closed, the link opened again
    assert reopened["sco"] == "etuqiette_item"
    suspended = await nav(admin, reopened, "suspendAll")
    assert suspended.json()["ended"] is True
    resumed = await launch(admin, enrollment.launch_token)
    assert resumed["sco"] == "etuqiette_item"


async def test_a_navigation_request_carries_the_scos_last_values(
    admin: httpx.AsyncClient, app: Litestar
) -> None:
    enrollment = await enrolled(admin, app, FORCED)
    config = await launch(admin, enrollment.launch_token)
    last = {"sco": config["sco"], "session": config["session"], "cmi": DONE}

    answer = await nav(admin, config, "continue", commit=last)

    assert answer.status_code == 200, answer.text
    assert answer.json()["deliver"] == "etuqiette_item"


async def test_bad_navigation_requests_get_a_clear_answer_and_no_change(
    admin: httpx.AsyncClient, app: Litestar
) -> None:
    enrollment = await enrolled(admin, app, FORCED)
    config = await launch(admin, enrollment.launch_token)
    async with PiccoloUnitOfWork() as uow:
        before = await uow.sequencing_states.get_for_update(enrollment.id)

    for body in ({"request": "fly"}, {"request": 3}, [1, 2], {"request": "choice", "target": "nowhere"}):
        answer = await admin.post(config["navUrl"], json=body)
        assert answer.status_code in {400, 409}
        assert answer.json()["message"]
    not_json = await admin.post(config["navUrl"], content=b"{", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 400
    form = await admin.post(config["navUrl"], data={"request": "choice", "target": "havingfun_item"})
    assert form.status_code == 409
    assert "Back to the course" in form.text
    async with PiccoloUnitOfWork() as uow:
        after = await uow.sequencing_states.get_for_update(enrollment.id)
    assert before is not None
    assert after is not None
    assert after[0].to_dict() == before[0].to_dict()
    assert after[1] == before[1]


async def test_two_tabs_navigating_at_once_leave_one_valid_state(
    admin: httpx.AsyncClient, app: Litestar
) -> None:
    enrollment = await enrolled(admin, app, FORCED)
    config = await launch(admin, enrollment.launch_token)
    await commit(admin, config, {"cmi": DONE}, final=True)

    answers = await asyncio.gather(nav(admin, config, "continue"), nav(admin, config, "continue"))

    delivered = sorted(a.json().get("deliver") or "" for a in answers)
    # Serialised by the row lock: the second continues from where the first left the learner.
    assert delivered in (
        ["", "etuqiette_item"],
        ["etuqiette_item", "etuqiette_item"],
        ["etuqiette_item", "handicapping_item"],
    )
    async with PiccoloUnitOfWork() as uow:
        stored = await uow.sequencing_states.get_for_update(enrollment.id)
    assert stored is not None
    assert stored[0].current in {"etuqiette_item", "handicapping_item"}


async def test_a_form_post_without_script_moves_on_and_redirects_to_the_player(
    admin: httpx.AsyncClient, app: Litestar
) -> None:
    enrollment = await enrolled(admin, app, FORCED)
    config = await launch(admin, enrollment.launch_token)
    await commit(admin, config, {"cmi": DONE}, final=True)

    answer = await admin.post(config["navUrl"], data={"request": "continue"})

    assert answer.status_code == 303
    assert answer.headers["location"] == f"/play/{enrollment.launch_token}"


async def test_a_sco_that_terminates_without_a_request_leaves_the_learner_to_choose(
    admin: httpx.AsyncClient, app: Litestar
) -> None:
    enrollment = await enrolled(admin, app, FORCED)
    config = await launch(admin, enrollment.launch_token)
    finished = {"completion_status": "completed", "success_status": "passed"}
    await commit(admin, config, {"cmi": finished}, final=True)

    ended = await nav(admin, config, "exit")  # what the player sends for a Terminate with no adl.nav.request

    assert ended.status_code == 200, ended.text
    assert ended.json()["deliver"] is None
    assert ended.json()["ended"] is False
    assert ended.json()["sequencing"]["continue"] is True
    page = await admin.get(f"{CONTENT}/play/{enrollment.launch_token}")
    assert "Choose what to do next" in page.text
    assert 'id="sco-frame"' not in page.text
