"""Piping saved values into survey text (issue 20 item 8)."""

from __future__ import annotations

from survey_helpers import enable_survey, link_for, open_form, post_page

from builders import create_project, field

PIPED = [
    field("record_id", "intake", label="Record ID"),
    field("nick", "intake", label="Nickname", section_header="Hi [nick]"),
    field("colour", "intake", "radio", "Colour", select_choices_or_calculations="1, Red | 2, Blue"),
    field(
        "greet",
        "intake",
        label="Hello [nick], you like [colour] ([colour:value]); [nope] stays",
        field_note="Note for [nick]",
    ),
    field(
        "pick",
        "intake",
        "dropdown",
        "Pick",
        select_choices_or_calculations="a, [nick]'s choice | b, Other",
    ),
    field("later", "intake", label="Blank: [empty]"),
    field("empty", "intake", label="Empty"),
]


def test_saved_values_are_piped_escaped(server):
    api = create_project(server, "Piping")
    api.import_json("metadata", PIPED)
    enable_survey(
        api,
        "intake",
        "--title",
        "Survey of [nick]",
        "--acknowledgement",
        "<p>Thanks [nick]</p>",
    )
    api.import_json("record", [{"record_id": "1", "nick": "<b>Ann</b>", "colour": "2"}])
    link = link_for(api)
    session, page, _ = open_form(link)
    html = page.text
    escaped = "&lt;b&gt;Ann&lt;/b&gt;"
    assert "<b>Ann</b>" not in html
    assert f'<h1 id="survey-title">Survey of {escaped}</h1>' in html
    assert f"Hello {escaped}, you like Blue (2); [nope] stays" in html
    assert f"Note for {escaped}" in html and f"Hi {escaped}" in html
    assert "&lt;b&gt;Ann&lt;/b&gt;&#39;s choice" in html or f"{escaped}'s choice" in html
    assert "Blank: ______" in html
    done = post_page(session, link, page, nick="Zed & co")
    assert "Thanks Zed &amp; co" in done.text
