"""SCORM 2004 sequencing: each rule on a small manifest built here, and the shared Golf examples."""

from __future__ import annotations

import io
import random
import zipfile

import pytest
from defusedxml.ElementTree import fromstring
from zipfactory import item as zip_item
from zipfactory import manifest as manifest_xml
from zipfactory import package as zip_package
from zipfactory import resource as zip_resource

from scormhub.domain.scorm.archive import validate_package
from scormhub.domain.scorm.sequencing.definitions import ActivityTreeDefinition
from scormhub.domain.scorm.sequencing.parse import SequencingManifestError, read_activity_tree
from scormhub.domain.scorm.sequencing.process import Sequencer
from scormhub.domain.scorm.sequencing.runtime import (
    RuntimeReport,
    apply_report,
    request_valid,
    root_result,
    table_of_contents,
)
from scormhub.domain.scorm.sequencing.state import TreeState
from shared_packages import PACKAGES

NS = (
    'xmlns="http://www.imsglobal.org/xsd/imscp_v1p1" '
    'xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_v1p3" '
    'xmlns:adlseq="http://www.adlnet.org/xsd/adlseq_v1p3" '
    'xmlns:adlnav="http://www.adlnet.org/xsd/adlnav_v1p3" '
    'xmlns:imsss="http://www.imsglobal.org/xsd/imsss"'
)


def manifest(items: str, root_sequencing: str = "", collection: str = "") -> ActivityTreeDefinition:
    text = f"""<manifest identifier="m" {NS}>
      <organizations default="org"><organization identifier="org"><title>Course</title>
        {items}
        {root_sequencing}
      </organization></organizations>
      <resources>
        <resource identifier="r" type="webcontent" adlcp:scormType="sco" href="sco.html"/>
      </resources>
      {f"<imsss:sequencingCollection>{collection}</imsss:sequencingCollection>" if collection else ""}
    </manifest>"""
    return read_activity_tree(fromstring(text))


def leaf(identifier: str, sequencing: str = "", extra: str = "") -> str:
    return (
        f'<item identifier="{identifier}" identifierref="r" {extra}><title>{identifier.title()}</title>'
        f"{sequencing}</item>"
    )


def seq(body: str) -> str:
    return f"<imsss:sequencing>{body}</imsss:sequencing>"


FLOW_AND_CHOICE = seq('<imsss:controlMode choice="true" flow="true"/>')
FLOW_ONLY = seq('<imsss:controlMode choice="false" flow="true"/>')


def finish(s: Sequencer, success: str | None = None, scaled: float | None = None) -> None:
    assert s.state.current is not None
    apply_report(
        s, s.state.current, RuntimeReport(completion="completed", success=success, scaled=scaled), final=True
    )


def test_flow_delivers_in_order_and_ends_the_session_after_the_last_activity() -> None:
    tree = manifest(leaf("a") + leaf("b") + leaf("c"), FLOW_AND_CHOICE)
    s = Sequencer(tree, TreeState())
    assert s.navigate("start").deliver == "a"
    assert s.navigate("continue").deliver == "b"
    assert s.navigate("previous").deliver == "a"
    assert s.navigate("continue").deliver == "b"
    assert s.navigate("continue").deliver == "c"
    ended = s.navigate("continue")
    assert ended.ended
    assert s.state.current is None
    result = root_result(s)
    assert result.completion == "completed"  # not completionSetByContent: ending the attempt completes it


def test_forced_sequential_refuses_a_choice_ahead_and_keeps_the_state() -> None:
    tree = manifest(leaf("a") + leaf("b") + leaf("c"), FLOW_ONLY)
    s = Sequencer(tree, TreeState())
    s.navigate("start")
    before = s.state.to_dict()
    refused = s.navigate("choice", "c")
    assert not refused.valid
    assert refused.code == "NB.2.1-10"
    assert s.state.to_dict() == before  # the last valid state is kept
    toc = table_of_contents(s)
    assert not any(e.enabled for e in toc if e.identifier == "c")
    valid = request_valid(s, toc)
    assert valid["continue"] is True
    assert valid["previous"] is False


def test_a_target_that_does_not_exist_is_refused_with_a_message() -> None:
    s = Sequencer(manifest(leaf("a"), FLOW_AND_CHOICE), TreeState())
    s.navigate("start")
    refused = s.navigate("choice", "nowhere")
    assert not refused.valid
    assert "nowhere" in (refused.message or "")
    assert s.state.current == "a"
    assert not s.navigate("dance").valid


PREVIOUS_NOT_SATISFIED_DISABLES = """<imsss:sequencingRules><imsss:preConditionRule>
  <imsss:ruleConditions conditionCombination="any">
    <imsss:ruleCondition referencedObjective="prev" operator="not" condition="satisfied"/>
    <imsss:ruleCondition referencedObjective="prev" operator="not" condition="objectiveStatusKnown"/>
  </imsss:ruleConditions><imsss:ruleAction action="disabled"/></imsss:preConditionRule>
  </imsss:sequencingRules>
  <imsss:objectives><imsss:primaryObjective objectiveID="b_ok"/>
  <imsss:objective objectiveID="prev"><imsss:mapInfo targetObjectiveID="g.a" readSatisfiedStatus="true"/>
  </imsss:objective></imsss:objectives>
  <imsss:deliveryControls objectiveSetByContent="true" completionSetByContent="true"/>"""
WRITES_A = """<imsss:objectives><imsss:primaryObjective objectiveID="a_ok">
  <imsss:mapInfo targetObjectiveID="g.a" writeSatisfiedStatus="true"/></imsss:primaryObjective>
  </imsss:objectives>
  <imsss:deliveryControls objectiveSetByContent="true" completionSetByContent="true"/>"""


def test_disabled_precondition_through_a_global_objective() -> None:
    tree = manifest(
        leaf("a", seq(WRITES_A)) + leaf("b", seq(PREVIOUS_NOT_SATISFIED_DISABLES)), FLOW_AND_CHOICE
    )
    s = Sequencer(tree, TreeState())
    s.navigate("start")
    assert not s.navigate("choice", "b").valid
    assert not s.navigate("continue").valid
    apply_report(s, "a", RuntimeReport(completion="completed", success="failed"), final=True)
    assert not s.navigate("continue").valid
    apply_report(s, "a", RuntimeReport(completion="completed", success="passed"), final=True)
    assert s.navigate("continue").deliver == "b"


def test_global_objectives_of_one_course_do_not_leak_into_another() -> None:
    """The same target objective id in two courses: each enrollment has its own state and globals."""
    course_one = manifest(
        leaf("a", seq(WRITES_A)) + leaf("b", seq(PREVIOUS_NOT_SATISFIED_DISABLES)), FLOW_AND_CHOICE
    )
    course_two = manifest(leaf("x") + leaf("b", seq(PREVIOUS_NOT_SATISFIED_DISABLES)), FLOW_AND_CHOICE)
    one, two = Sequencer(course_one, TreeState()), Sequencer(course_two, TreeState())
    one.navigate("start")
    apply_report(one, "a", RuntimeReport(completion="completed", success="passed"), final=True)
    assert one.state.globals["g.a"].satisfied
    two.navigate("start")
    assert "g.a" not in two.state.globals
    assert not two.navigate("choice", "b").valid
    restored = TreeState.from_dict(two.state.to_dict())
    assert "g.a" not in restored.globals


def test_skip_and_hidden_from_choice() -> None:
    always = '<imsss:ruleConditions><imsss:ruleCondition condition="always"/></imsss:ruleConditions>'
    skip = seq(
        f'<imsss:sequencingRules><imsss:preConditionRule>{always}<imsss:ruleAction action="skip"/>'
        "</imsss:preConditionRule></imsss:sequencingRules>"
    )
    hidden = seq(
        f"<imsss:sequencingRules><imsss:preConditionRule>{always}"
        '<imsss:ruleAction action="hiddenFromChoice"/></imsss:preConditionRule></imsss:sequencingRules>'
    )
    tree = manifest(
        leaf("a") + leaf("b", skip) + leaf("c", hidden) + leaf("d", "", 'isvisible="false"'), FLOW_AND_CHOICE
    )
    s = Sequencer(tree, TreeState())
    s.navigate("start")
    assert s.navigate("continue").deliver == "c"  # b is skipped by flow
    toc = {e.identifier: e for e in table_of_contents(s)}
    assert toc["c"].hidden
    assert not toc["c"].enabled
    assert toc["d"].hidden  # isvisible="false" stays out of the contents
    refused = s.navigate("choice", "c")
    assert not refused.valid


def test_attempt_limit_disables_the_activity_once_used() -> None:
    tree = manifest(leaf("a", seq('<imsss:limitConditions attemptLimit="1"/>')) + leaf("b"), FLOW_AND_CHOICE)
    s = Sequencer(tree, TreeState())
    s.navigate("start")
    finish(s)
    assert s.navigate("continue").deliver == "b"
    refused = s.navigate("choice", "a")
    assert not refused.valid
    assert {e.identifier: e.enabled for e in table_of_contents(s)}["a"] is False


POST_TEST = seq("""<imsss:controlMode choice="true" flow="true"/>
  <imsss:rollupRules><imsss:rollupRule childActivitySet="any">
    <imsss:rollupConditions><imsss:rollupCondition condition="satisfied"/></imsss:rollupConditions>
    <imsss:rollupAction action="satisfied"/></imsss:rollupRule>
  <imsss:rollupRule childActivitySet="all">
    <imsss:rollupConditions><imsss:rollupCondition condition="completed"/></imsss:rollupConditions>
    <imsss:rollupAction action="completed"/></imsss:rollupRule></imsss:rollupRules>""")
CONTENT_DOES_NOT_COUNT = seq(
    '<imsss:rollupRules rollupObjectiveSatisfied="false" objectiveMeasureWeight="0"/>'
    '<imsss:deliveryControls objectiveSetByContent="true" completionSetByContent="true"/>'
)
TEST = seq('<imsss:deliveryControls objectiveSetByContent="true" completionSetByContent="true"/>')


def test_post_test_rollup_course_status_follows_the_post_test() -> None:
    tree = manifest(leaf("content", CONTENT_DOES_NOT_COUNT) + leaf("posttest", TEST), POST_TEST)
    s = Sequencer(tree, TreeState())
    s.navigate("start")
    finish(s)
    s.navigate("continue")
    finish(s, "failed", 0.4)
    assert root_result(s).success == "unknown"  # the rollup rule only says satisfied; nothing failed it
    finish(s, "passed", 0.8)
    result = root_result(s)
    assert (result.completion, result.success) == ("completed", "passed")
    assert result.scaled == pytest.approx(0.8)


def test_default_rollup_fails_the_course_when_a_test_fails() -> None:
    tree = manifest(leaf("a", TEST) + leaf("b", TEST), FLOW_AND_CHOICE)
    s = Sequencer(tree, TreeState())
    s.navigate("start")
    finish(s, "passed", 1.0)
    s.navigate("continue")
    finish(s, "failed", 0.2)
    assert root_result(s).success == "failed"
    assert root_result(s).scaled == pytest.approx(0.6)  # measure weights 1 and 1


REMEDIATION = seq("""<imsss:controlMode choice="false" flow="true"/>
  <imsss:sequencingRules>
    <imsss:postConditionRule><imsss:ruleConditions conditionCombination="all">
      <imsss:ruleCondition operator="not" condition="satisfied"/>
      <imsss:ruleCondition operator="not" condition="attemptLimitExceeded"/></imsss:ruleConditions>
      <imsss:ruleAction action="retry"/></imsss:postConditionRule>
  </imsss:sequencingRules><imsss:limitConditions attemptLimit="2"/>""")
EXIT_PARENT = seq("""<imsss:sequencingRules><imsss:postConditionRule><imsss:ruleConditions>
  <imsss:ruleCondition condition="always"/></imsss:ruleConditions><imsss:ruleAction action="exitParent"/>
  </imsss:postConditionRule></imsss:sequencingRules>
  <imsss:deliveryControls objectiveSetByContent="true" completionSetByContent="true"/>""")


def test_remediation_retries_a_failed_test_until_the_attempt_limit() -> None:
    children = leaf("lesson") + leaf("quiz", EXIT_PARENT)
    items = f'<item identifier="unit"><title>Unit</title>{children}{REMEDIATION}</item>'
    tree = manifest(items, FLOW_AND_CHOICE)
    s = Sequencer(tree, TreeState())
    assert s.navigate("start").deliver == "lesson"
    finish(s)
    assert s.navigate("continue").deliver == "quiz"
    finish(s, "failed", 0.1)
    retried = s.navigate("continue")  # quiz exits its parent; the unit's post rule retries it
    assert retried.deliver == "lesson"
    assert s.state.activities["unit"].attempt_count == 2
    finish(s)
    s.navigate("continue")
    finish(s, "failed", 0.1)
    # The limit is used: no retry; flow goes past the last activity and the session ends.
    assert s.navigate("continue").ended


def test_random_selection_picks_select_count_children_per_attempt() -> None:
    pool = "".join(leaf(f"q{i}", TEST) for i in range(6))
    randomized = seq(
        '<imsss:controlMode choice="false" flow="true"/>'
        '<imsss:randomizationControls selectionTiming="onEachNewAttempt" selectCount="2" '
        'randomizationTiming="onEachNewAttempt" reorderChildren="true"/>'
    )
    tree = manifest(f'<item identifier="pool"><title>Pool</title>{pool}{randomized}</item>', FLOW_AND_CHOICE)
    seen = set()
    for seed in range(8):
        s = Sequencer(tree, TreeState(), rng=random.Random(seed))
        delivered = [s.navigate("start").deliver]
        finish(s, "passed")
        delivered.append(s.navigate("continue").deliver)
        finish(s, "passed")
        assert s.navigate("continue").ended
        assert len(set(delivered)) == 2
        seen.add(tuple(delivered))
        toc = [e.identifier for e in table_of_contents(s) if e.leaf]
        assert sorted(toc) == sorted(delivered)  # the contents list only the selected questions
    assert len(seen) > 1


def test_suspend_all_then_resume_all_returns_to_the_same_activity() -> None:
    tree = manifest(leaf("a") + leaf("b") + leaf("c"), FLOW_AND_CHOICE)
    s = Sequencer(tree, TreeState())
    s.navigate("start")
    s.navigate("continue")
    apply_report(s, "b", RuntimeReport(completion="incomplete", exit="suspend"), final=True)
    assert s.navigate("suspendAll").ended
    resumed = Sequencer(tree, TreeState.from_dict(s.state.to_dict()))
    outcome = resumed.navigate("resumeAll")
    assert outcome.deliver == "b"
    assert resumed.state.activities["b"].attempt_count == 1  # resumed, not a new attempt


def test_choice_exit_false_keeps_the_learner_inside_the_cluster() -> None:
    locked = seq('<imsss:controlMode choice="true" flow="true" choiceExit="false"/>')
    items = f'<item identifier="m1"><title>M1</title>{leaf("a")}{leaf("b")}{locked}</item>{leaf("z")}'
    s = Sequencer(manifest(items, FLOW_AND_CHOICE), TreeState())
    s.navigate("start")
    assert s.navigate("choice", "z").code == "NB.2.1-8"
    assert s.navigate("choice", "b").deliver == "b"


def test_an_idref_to_nothing_is_a_clear_error() -> None:
    with pytest.raises(SequencingManifestError) as raised:
        manifest(leaf("a", '<imsss:sequencing IDRef="missing"/>'))
    assert raised.value.code == "S2-idref-unknown"
    assert "missing" in str(raised.value)


def test_a_cycle_of_idrefs_is_a_clear_error() -> None:
    collection = '<imsss:sequencing ID="one" IDRef="two"/><imsss:sequencing ID="two" IDRef="one"/>'
    with pytest.raises(SequencingManifestError) as raised:
        manifest(leaf("a", '<imsss:sequencing IDRef="one"/>'), collection=collection)
    assert raised.value.code == "S2-idref-cycle"


def test_collection_elements_apply_unless_the_item_overrides_them() -> None:
    collection = (
        '<imsss:sequencing ID="common"><imsss:limitConditions attemptLimit="3"/>'
        '<imsss:deliveryControls tracked="false"/></imsss:sequencing>'
    )
    tree = manifest(
        leaf(
            "a",
            '<imsss:sequencing IDRef="common"><imsss:limitConditions attemptLimit="1"/></imsss:sequencing>',
        ),
        collection=collection,
    )
    definition = tree.by_id["a"].sequencing
    assert definition.attempt_limit == 1
    assert definition.tracked is False


# --- the shared Golf examples -------------------------------------------------------------------------


def golf(name: str) -> ActivityTreeDefinition:
    with zipfile.ZipFile(PACKAGES / "valid" / f"{name}.zip") as package:
        return read_activity_tree(fromstring(package.read("imsmanifest.xml")))


def take_to_the_end(tree: ActivityTreeDefinition, score: float = 0.9) -> Sequencer:
    s = Sequencer(tree, TreeState(), rng=random.Random(3))
    outcome = s.navigate("start")
    for _ in range(len(tree.preorder) * 3):
        assert outcome.valid, outcome.message
        if outcome.ended:
            return s
        assert s.state.current is not None
        success = "passed" if score >= 0.7 else "failed"
        apply_report(
            s,
            s.state.current,
            RuntimeReport(completion="completed", success=success, scaled=score),
            final=True,
        )
        outcome = s.navigate("continue")
        if not outcome.valid:
            break
    return s


@pytest.mark.parametrize(
    "name",
    [
        "SequencingForcedSequential_SCORM20043rdEdition",
        "SequencingPostTestRollup_SCORM20043rdEdition",
        "SequencingPostTestRollup4thEd_SCORM20044thEdition",
        "SequencingPreOrPostTestRollup_SCORM20043rdEdition",
        "SequencingRandomTest_SCORM20043rdEdition",
        "SequencingSimpleRemediation_SCORM20043rdEdition",
    ],
)
def test_golf_examples_can_be_taken_to_completion(name: str) -> None:
    s = take_to_the_end(golf(name))
    result = root_result(s)
    assert (result.completion, result.success) == ("completed", "passed")


def test_golf_forced_sequential_refuses_a_jump_ahead() -> None:
    s = Sequencer(golf("SequencingForcedSequential_SCORM20043rdEdition"), TreeState())
    s.navigate("start")
    assert not s.navigate("choice", "handicapping_item").valid
    assert s.state.current == "playing_item"


def test_golf_post_test_rollup_follows_the_post_test() -> None:
    tree = golf("SequencingPostTestRollup4thEd_SCORM20044thEdition")
    failed = take_to_the_end(tree, score=0.3)
    assert root_result(failed).success == "failed"


def test_the_package_checker_reports_a_sequencing_idref_to_nothing() -> None:
    broken = manifest_xml(
        "3rd",
        items=zip_item(inner='<imsss:sequencing IDRef="shared_rules"/>'),
        resources=zip_resource(version="3rd", files=["index.html"]),
    )

    report = validate_package(io.BytesIO(zip_package(broken)))

    assert not report.valid
    # Named once, by the organization reader (the sequencing reader would say the same).
    problem = next(p for p in report.errors if p.code == "P4-unresolved-sequencing-idref")
    assert "S2-idref-unknown" not in {p.code for p in report.errors}
    assert "shared_rules" in problem.message
    assert "sequencingCollection" in problem.message
