"""The localcap command: help, tokens (while a server runs), projects."""

from __future__ import annotations

import requests
from click.testing import CliRunner

from builders import create_project, project_id
from localcap.cli import main
from localcap.db.transactions import write_transaction


def database_args(server) -> list[str]:
    url = server.engine.url.render_as_string(hide_password=False)
    return ["--data-dir", str(server.data_dir), "--database-url", url]


def test_every_command_explains_its_options():
    runner = CliRunner()
    top = runner.invoke(main, ["--help"])
    assert top.exit_code == 0 and "serve" in top.output and "token" in top.output
    for command in (
        ["serve"],
        ["token", "super"],
        ["token", "create"],
        ["project", "list"],
        ["report", "import"],
        ["report", "list"],
        ["dag", "allow-switch"],
    ):
        result = runner.invoke(main, [*command, "--help"])
        assert result.exit_code == 0, result.output
        assert "--data-dir" in result.output and "--database-url" in result.output


def test_super_token_works_while_the_server_runs(server):
    result = CliRunner().invoke(
        main, ["token", "super", *database_args(server), "--username", "root2"]
    )
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    assert len(token) == 64 and token == token.upper()
    response = requests.post(
        server.url,
        data={
            "token": token,
            "content": "project",
            "format": "json",
            "data": '[{"project_title": "From CLI token", "purpose": 0}]',
        },
        timeout=30,
    )
    assert response.status_code == 200 and len(response.text) == 32


def test_project_token_for_an_existing_user(server):
    api = create_project(server, "CLI tokens")
    pid = api.json(content="project")["project_id"]
    api.import_json("user", [{"username": "cli_user", "api_export": 1}])
    runner = CliRunner()
    result = runner.invoke(
        main,
        [
            "token",
            "create",
            *database_args(server),
            "--project",
            str(pid),
            "--username",
            "cli_user",
        ],
    )
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    assert len(token) == 32 and all(c in "0123456789ABCDEF" for c in token)
    response = requests.post(
        server.url, data={"token": token, "content": "instrument", "format": "json"}, timeout=30
    )
    assert response.status_code == 200
    stranger = runner.invoke(
        main,
        ["token", "create", *database_args(server), "--project", str(pid), "--username", "nobody"],
    )
    assert stranger.exit_code != 0 and "is not a user of project" in stranger.output
    listing = runner.invoke(main, ["project", "list", *database_args(server)])
    assert f"{pid}\tclassic\tCLI tokens" in listing.output


def test_bad_database_url_says_what_to_do(tmp_path):
    result = CliRunner().invoke(
        main,
        [
            "project",
            "list",
            "--data-dir",
            str(tmp_path),
            "--database-url",
            "postgresql://nobody@127.0.0.1:1/x",
        ],
    )
    assert result.exit_code != 0
    assert "Check --database-url" in result.output


def test_a_command_that_waits_too_long_for_the_project_says_to_try_again(server, monkeypatch):
    """`localcap token create` while a write holds the project's lock beyond the bound (1 s
    through LOCALCAP_WRITE_LOCK_TIMEOUT): a one-line error saying to try again, exit code 1,
    no token; run again once the project is free, it works."""
    api = create_project(server)
    pid = project_id(api)
    monkeypatch.setenv("LOCALCAP_WRITE_LOCK_TIMEOUT", "1")
    args = ["token", "create", *database_args(server), "--project", str(pid)]
    username = api.json(content="user")[0]["username"]
    with write_transaction(server.engine, pid):
        busy = CliRunner().invoke(main, [*args, "--username", username])
    assert busy.exit_code == 1, busy.output
    assert "busy with another write" in busy.output and "Try again" in busy.output
    assert "Traceback" not in busy.output
    api.ok(content="project")  # the old token still works: nothing was changed
    done = CliRunner().invoke(main, [*args, "--username", username])
    assert done.exit_code == 0, done.output
