"""Branching logic on the survey page, over HTTP: the server decides which questions are shown,
required and saved, from the record's stored data and the answers being submitted."""

from __future__ import annotations

from survey_helpers import (
    SURVEY_DICTIONARY,
    cli,
    open_form,
    post_page,
    project_id,
    record,
    survey_project,
)

from builders import create_project, field


def test_questions_hidden_by_branching_logic_are_not_on_the_page(server):
    api = survey_project(server)
    link = api.ok(content="surveyLink", record="1", instrument="intake").text
    _, page, _ = open_form(link)
    html = page.text
    assert 'name="smoker"' in html and 'name="full_name"' in html
    # [smoker] = '1', [pets(2)] = '1' ... and [staff_note] <> '' are all false for record 1
    for hidden in ("cigarettes", "dog_name", "staff_question"):
        assert f'name="{hidden}"' not in html
    assert "Your dog" not in html  # the section's only question is hidden, so is its header
    # record 2 has a staff note on another instrument: its stored data makes the question show
    link2 = api.ok(content="surveyLink", record="2", instrument="intake").text
    _, page2, _ = open_form(link2)
    assert 'name="staff_question"' in page2.text and 'name="cigarettes"' not in page2.text


def test_answers_that_reveal_questions_bring_the_page_back_with_them(server):
    api = survey_project(server)
    link = api.ok(content="surveyLink", record="1", instrument="intake").text
    session, page, _ = open_form(link)
    answers = {"full_name": "Ada", "smoker": "1", "pets": ["2"]}
    again = post_page(session, link, page, **answers)
    assert again.status_code == 200
    assert "Your answers bring up more questions" in again.text
    assert 'name="cigarettes"' in again.text and 'name="dog_name"' in again.text
    assert "Your dog" in again.text and 'value="Ada"' in again.text
    assert record(api)["full_name"] == ""  # nothing saved yet
    # the revealed question is required: submitting without it is refused
    refused = post_page(session, link, again, **answers)
    assert refused.status_code == 400 and "This field is required." in refused.text
    done = post_page(session, link, refused, **answers, cigarettes="12", dog_name="Rex")
    assert "Thank you for taking the survey." in done.text
    saved = record(api)
    assert (saved["full_name"], saved["smoker"], saved["cigarettes"], saved["dog_name"]) == (
        "Ada",
        "1",
        "12",
        "Rex",
    )
    assert saved["intake_complete"] == "2"


def test_answers_to_hidden_questions_are_dropped_and_stored_ones_erased(server):
    api = survey_project(server)
    api.import_json("record", [{"record_id": "1", "cigarettes": "20", "dog_name": "Old dog"}])
    link = api.ok(content="surveyLink", record="1", instrument="intake").text
    session, page, _ = open_form(link)
    # a forged post answers hidden questions; the server's own evaluation decides: smoker=0
    # and no dog hide them, so their answers are dropped and the stored values erased, and the
    # required "cigarettes" is not required
    done = post_page(
        session,
        link,
        page,
        full_name="Ada",
        smoker="0",
        pets=["1"],
        cigarettes="30",
        dog_name="Fido",
        staff_question="forged",
        was_hidden="",
    )
    assert "Thank you for taking the survey." in done.text
    saved = record(api)
    assert (saved["cigarettes"], saved["dog_name"], saved["staff_question"]) == ("", "", "")
    assert (saved["smoker"], saved["pets___1"], saved["intake_complete"]) == ("0", "1", "2")


def test_hiding_cascades_through_questions_that_depend_on_hidden_ones(server):
    api = survey_project(server)
    cascade = field(
        "brand", "intake", label="Brand", required_field="y", branching_logic="[cigarettes] > 0"
    )
    api.import_json("metadata", [*SURVEY_DICTIONARY[:-1], cascade, SURVEY_DICTIONARY[-1]])
    link = api.ok(content="surveyLink", record="1", instrument="intake").text
    session, page, _ = open_form(link)
    # cigarettes=5 is posted but hidden (smoker=0): it reads as blank, so "brand" hides too
    done = post_page(session, link, page, full_name="A", smoker="0", cigarettes="5", brand="X")
    assert "Thank you for taking the survey." in done.text
    assert (record(api)["cigarettes"], record(api)["brand"]) == ("", "")


def test_branching_reads_other_events_and_smart_variables(server):
    api = create_project(server, "Survey events", longitudinal=True)
    api.import_json(
        "metadata",
        [
            field("record_id", "screening"),
            field("eligible", "screening", "yesno", "Eligible?"),
            field("feeling", "followup", label="How do you feel?"),
            field(
                "details",
                "followup",
                label="Tell us more",
                branching_logic="[screening_arm_1][eligible] = '1' and "
                "[event-name] = 'follow_up_arm_1'",
            ),
        ],
    )
    api.import_json(
        "event",
        [{"event_name": "Screening", "arm_num": 1}, {"event_name": "Follow up", "arm_num": 1}],
        override=1,
    )
    api.import_json(
        "formEventMapping",
        [
            {"arm_num": 1, "unique_event_name": "screening_arm_1", "form": "screening"},
            {"arm_num": 1, "unique_event_name": "follow_up_arm_1", "form": "followup"},
        ],
    )
    api.import_json(
        "record",
        [
            {"record_id": r, "redcap_event_name": "screening_arm_1", "eligible": e}
            for r, e in (("1", "1"), ("2", "0"))
        ],
    )
    cli(server, "survey", "enable", "--project", str(project_id(api)), "--instrument", "followup")

    def page(record_id: str) -> str:
        link = api.ok(
            content="surveyLink", record=record_id, instrument="followup", event="follow_up_arm_1"
        ).text
        return open_form(link)[1].text

    assert 'name="details"' in page("1") and 'name="feeling"' in page("1")
    assert 'name="details"' not in page("2") and 'name="feeling"' in page("2")
