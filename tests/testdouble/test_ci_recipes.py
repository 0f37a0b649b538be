"""The README's CI recipes and R example, run as written.

What is not run: the install lines (``pip install localcap``, ``apt-get``: the suite runs in
the environment they would make) and GitHub's own actions (checkout, setup-python). Two
things stand in for the CI machine: the shell recipe's ``PORT`` and the workflow's port 8080
become a free port (other tests may be using 8080), and ``${{ github.workspace }}`` the
test's directory, as the runner would expand it.
"""

from __future__ import annotations

import contextlib
import csv
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from readme import readme_block

from builders import create_project
from liveserver import REDCAP_PROJECTS, free_port, start_server
from localcap.cli import main

BIN = str(Path(sys.executable).parent)
USER_TEST = """
import os

import redcap


def test_the_pipeline_reads_the_records():
    project = redcap.Project(os.environ["REDCAP_API_URL"], os.environ["REDCAP_API_TOKEN"])
    assert len(project.export_records()) > 0
"""


def ci_checkout(root: Path) -> Path:
    """A project's checkout as the recipes expect it: tests/ with a project XML and a test."""
    (root / "tests").mkdir(parents=True)
    shutil.copy(
        REDCAP_PROJECTS / "pycap_test_simple_project.xml", root / "tests" / "redcap-project.xml"
    )
    (root / "tests" / "test_pipeline.py").write_text(USER_TEST)
    return root


def ci_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOCALCAP_", "REDCAP_"))}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return {**env, **extra}


def port_closed(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def test_the_shell_recipe_runs_the_tests(tmp_path):
    recipe = readme_block("pip install localcap").splitlines()
    assert recipe[0].startswith("pip install localcap")
    root = ci_checkout(tmp_path)
    port = free_port()
    result = subprocess.run(
        ["bash", "-e", "-c", "\n".join(recipe[1:])],
        cwd=root,
        env=ci_env(PORT=str(port)),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
    assert port_closed(port)  # the trap stopped the server


def test_the_github_actions_job_runs_the_tests(tmp_path):
    workflow = yaml.safe_load(readme_block("# .github/workflows/tests.yml"))
    job = workflow["jobs"]["test"]
    root = ci_checkout(tmp_path)
    port = str(free_port())
    github_env = tmp_path / "github_env"
    github_env.touch()
    env = ci_env(GITHUB_ENV=str(github_env))
    for name, value in job["env"].items():
        env[name] = value.replace("${{ github.workspace }}", str(root))
    ran, sessions = [], []
    try:
        for step in job["steps"]:
            if "uses" in step or "pip install" in step["run"]:
                continue
            log = tmp_path / f"step-{len(ran)}.log"
            with log.open("w") as out:
                process = subprocess.Popen(
                    ["bash", "-e", "-c", step["run"].replace("8080", port)],
                    cwd=root,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # what the step leaves running is ours to stop
                )
            sessions.append(process.pid)
            assert process.wait(timeout=300) == 0, (step, log.read_text())
            for line in github_env.read_text().splitlines():
                key, _, value = line.partition("=")
                env[key] = value
            ran.append(step.get("name", step["run"]))
        assert env["REDCAP_API_URL"] == f"http://127.0.0.1:{port}/api/"
        assert len(env["REDCAP_API_TOKEN"]) == 32
        assert len(ran) == 3
    finally:
        for pid in sessions:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)


@pytest.fixture
def served_project(tmp_path):
    live = start_server(tmp_path / "data", None, "sqlite")
    api = create_project(live)
    api.import_json(
        "metadata",
        [{"field_name": "record_id", "form_name": "f", "field_type": "text", "field_label": "ID"}],
    )
    api.import_json("record", [{"record_id": "1"}, {"record_id": "2"}])
    yield live, api
    live.stop()


def token_create(live, *options: str) -> str:
    result = CliRunner().invoke(
        main,
        [
            "token",
            "create",
            "--data-dir",
            str(live.data_dir),
            "--project",
            "1",
            "--username",
            "admin",
            *options,
        ],
    )
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.skipif(shutil.which("Rscript") is None, reason="R is not installed")
def test_the_r_example_reads_records_with_the_env_file(served_project, tmp_path):
    live, _api = served_project
    example = readme_block("# test-records.R")
    work = tmp_path / "r"
    work.mkdir()
    (work / "localcap.env").write_text(token_create(live, "--format", "env", "--url", live.url))
    (work / "test-records.R").write_text(example)
    result = subprocess.run(
        ["Rscript", "test-records.R"], cwd=work, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    # and it fails when it should: a revoked token
    (work / "localcap.env").write_text(f"REDCAP_API_URL={live.url}\nREDCAP_API_TOKEN={'0' * 32}\n")
    result = subprocess.run(
        ["Rscript", "test-records.R"], cwd=work, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0


def test_the_csv_format_is_a_redcapr_credential_file(served_project):
    live, api = served_project
    rows = list(
        csv.DictReader(token_create(live, "--format", "csv", "--url", live.url).splitlines())
    )
    assert len(rows) == 1
    row = rows[0]
    assert list(row) == ["redcap_uri", "username", "project_id", "token", "comment"]
    assert (row["redcap_uri"], row["username"], row["project_id"]) == (live.url, "admin", "1")
    api.token = row["token"]  # the printed token is the user's working token
    assert [r["record_id"] for r in api.json(content="record")] == ["1", "2"]


def test_the_plain_format_is_the_token_alone(served_project):
    live, _ = served_project
    assert len(token_create(live).strip()) == 32
    result = CliRunner().invoke(
        main,
        [
            "token",
            "create",
            "--data-dir",
            str(live.data_dir),
            "--project",
            "1",
            "--username",
            "admin",
            "--format",
            "csv",
        ],
    )
    assert result.exit_code == 2 and "--format csv needs --url" in result.output
