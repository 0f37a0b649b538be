"""A real browser (headless Chromium, Debian's chromium + chromium-driver, through selenium)
opens a survey link, answers, submits (an answer revealing a question brings the page back
with it), and the answer is in Export Records; a response saved for later is taken up again.

Without Chromium the test skips, except in CI (CI=true), where a missing browser fails it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from survey_helpers import survey_project

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


@pytest.fixture
def browser() -> Iterator[object]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium is missing: apt-get install chromium chromium-driver")
        pytest.skip("Chromium is not installed here (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="localcap-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait_for(browser, element_id: str):  # noqa: ANN001, ANN201
    """The element of the page a click led to, once that page has loaded."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, 30).until(
        expected_conditions.presence_of_element_located((By.ID, element_id))
    )


def test_a_participant_answers_a_survey_in_chromium(server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    api = survey_project(server)
    link = api.ok(content="surveyLink", record="1", instrument="intake").text
    browser.get(link)
    assert browser.find_element(By.ID, "survey-title").text == "Intake <survey>"
    labels = browser.find_element(By.ID, "survey-form").text
    assert "Favourite colour" in labels and "Bold" in labels
    # the hostile label's script never ran and its image was dropped
    assert browser.find_elements(By.CSS_SELECTOR, "#story-tr img") == []
    browser.find_element(By.NAME, "full_name").send_keys("Grace Hopper")
    browser.find_element(By.NAME, "age").send_keys("85")
    browser.find_element(By.CSS_SELECTOR, "input[name=colour][value='1']").click()
    browser.find_element(By.CSS_SELECTOR, "input[name=pets][value='2']").click()
    Select(browser.find_element(By.NAME, "country")).select_by_value("fr")
    browser.find_element(By.NAME, "story").send_keys("Compilers & <bugs>")
    assert browser.find_elements(By.NAME, "dog_name") == []  # branching: no dog yet
    browser.find_element(By.ID, "submit-btn").click()
    # having a dog brings the page back with the dog's question, the answers kept
    assert "more questions" in wait_for(browser, "notice").text
    assert browser.find_element(By.NAME, "full_name").get_attribute("value") == "Grace Hopper"
    browser.find_element(By.NAME, "dog_name").send_keys("Rex")
    browser.find_element(By.ID, "submit-btn").click()
    assert "Thank you for taking the survey." in wait_for(browser, "acknowledgement").text
    saved = api.json(content="record", records="1")[0]
    assert (saved["full_name"], saved["age"], saved["colour"], saved["country"]) == (
        "Grace Hopper",
        "85",
        "1",
        "fr",
    )
    assert (saved["pets___1"], saved["pets___2"], saved["story"], saved["dog_name"]) == (
        "0",
        "1",
        "Compilers & <bugs>",
        "Rex",
    )
    assert saved["intake_complete"] == "2"


def test_save_and_return_later_in_chromium(server, browser):
    from selenium.webdriver.common.by import By

    api = survey_project(server, "--save-and-return")
    link = api.ok(content="surveyLink", record="1", instrument="intake").text
    browser.get(link)
    browser.find_element(By.NAME, "full_name").send_keys("Grace")
    browser.find_element(By.ID, "save-return-btn").click()
    code = wait_for(browser, "return-code").text
    assert code == api.ok(content="surveyReturnCode", record="1", instrument="intake").text
    browser.get(link)  # coming back: the code first, then the saved answers
    assert browser.find_elements(By.NAME, "full_name") == []
    browser.find_element(By.NAME, "return_code").send_keys(code)
    browser.find_element(By.ID, "begin-btn").click()
    assert wait_for(browser, "full_name").get_attribute("value") == "Grace"
    browser.find_element(By.ID, "submit-btn").click()
    wait_for(browser, "acknowledgement")
    assert api.json(content="record", records="1")[0]["intake_complete"] == "2"


def test_hidden_readonly_and_piped_fields_in_chromium(server, browser):
    from selenium.webdriver.common.by import By
    from survey_helpers import enable_survey

    from builders import create_project, field

    api = create_project(server, "Browser tags")
    api.import_json(
        "metadata",
        [
            field("record_id", "intake", label="Record ID"),
            field("nick", "intake", label="Nickname"),
            field("secret", "intake", label="Staff note", field_annotation="@HIDDEN-SURVEY"),
            field("site", "intake", label="Site", field_annotation="@READONLY"),
            field("mood", "intake", label="How are you today, [nick]?"),
        ],
    )
    enable_survey(api, "intake")
    api.import_json(
        "record",
        [{"record_id": "1", "nick": "<i>Bo</i>", "secret": "CONFIDENTIAL", "site": "Lyon"}],
    )
    browser.get(api.ok(content="surveyLink", record="1", instrument="intake").text)
    assert "CONFIDENTIAL" not in browser.page_source
    assert browser.find_elements(By.NAME, "secret") == []
    assert browser.find_elements(By.NAME, "site") == []
    assert browser.find_element(By.ID, "site-value").text == "Lyon"
    label = browser.find_element(By.CSS_SELECTOR, "#mood-tr label").text
    assert label == "How are you today, <i>Bo</i>?"  # piped as text, not markup
    assert browser.find_element(By.NAME, "nick").get_attribute("value") == "<i>Bo</i>"
    browser.find_element(By.NAME, "mood").send_keys("Fine")
    browser.find_element(By.ID, "submit-btn").click()
    wait_for(browser, "acknowledgement")
    saved = api.json(content="record", records="1")[0]
    assert (saved["mood"], saved["secret"], saved["site"], saved["nick"]) == (
        "Fine",
        "CONFIDENTIAL",
        "Lyon",
        "<i>Bo</i>",
    )


def test_a_file_is_uploaded_in_chromium(server, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from survey_helpers import enable_survey

    from builders import create_project, field

    api = create_project(server, "Browser upload")
    api.import_json(
        "metadata",
        [
            field("record_id", "consent", label="Record ID"),
            field("scan", "consent", "file", "Scan"),
        ],
    )
    enable_survey(api, "consent")
    api.import_json("record", [{"record_id": "1"}])
    scan = tmp_path / "scan.txt"
    scan.write_bytes(b"scanned in chromium")
    browser.get(api.ok(content="surveyLink", record="1", instrument="consent").text)
    browser.find_element(By.NAME, "scan").send_keys(str(scan))
    browser.find_element(By.ID, "submit-btn").click()
    wait_for(browser, "acknowledgement")
    exported = api.call(content="file", action="export", record="1", field="scan")
    assert exported.status_code == 200 and exported.content == b"scanned in chromium"


def test_the_survey_queue_in_chromium(server, browser):
    from selenium.webdriver.common.by import By

    api = survey_project(server, "--queue")
    queue = api.ok(content="surveyQueueLink", record="2").text
    browser.get(queue)
    browser.find_element(By.LINK_TEXT, "Begin survey").click()
    browser.find_element(By.NAME, "full_name").send_keys("Queue Walker")
    browser.find_element(By.ID, "submit-btn").click()
    wait_for(browser, "acknowledgement")
    browser.get(queue)
    assert "Completed" in browser.find_element(By.TAG_NAME, "table").text
    assert browser.find_elements(By.LINK_TEXT, "Begin survey") == []
    assert api.json(content="record", records="2")[0]["full_name"] == "Queue Walker"
