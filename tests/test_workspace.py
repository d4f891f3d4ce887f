"""One workspace per command: store, output and state, from flags, environment or site.toml."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from feeds.cli import cli
from feeds.settings import SETTINGS, help_lines, resolve_workspace, site_template

from .conftest import REPO, SITE_TOML, StoreFactory, story

NOW = "2024-06-01T12:00:00Z"
BODY = "## 2024-06-01 09:00 {#first}\n\nFirst."


def test_flags_then_environment_then_site_toml_then_defaults(
    make_store: StoreFactory, tmp_path: Path
) -> None:
    root = make_store(site=SITE_TOML + 'out = "public"\nstate = "var/feeds"\n', s=story(body=BODY))
    ws = resolve_workspace(root, env={})
    assert (ws.out, ws.state) == (tmp_path / "public", tmp_path / "var" / "feeds")
    ws = resolve_workspace(root, env={"FEEDS_OUT": str(tmp_path / "o"), "FEEDS_STATE": "st"})
    assert (ws.out, ws.state) == (tmp_path / "o", Path("st"))
    ws = resolve_workspace(root, tmp_path / "x", tmp_path / "y", env={"FEEDS_OUT": "o"})
    assert (ws.out, ws.state) == (tmp_path / "x", tmp_path / "y")
    plain = make_store(site=SITE_TOML)
    ws = resolve_workspace(plain, env={})
    assert (ws.out, ws.state) == (Path("out"), (tmp_path / ".feeds").absolute())


def test_every_command_uses_the_same_state(make_store: StoreFactory, tmp_path: Path) -> None:
    root = make_store(s=story(body=BODY))
    state = tmp_path / "elsewhere"
    env = {"FEEDS_NOW": NOW, "FEEDS_STATE": str(state)}
    runner = CliRunner(env=env)
    args = ["--data", str(root), "--out", str(tmp_path / "out")]
    assert runner.invoke(cli, ["build", *args]).exit_code == 0
    assert (state / "index.json").exists() and not (tmp_path / ".feeds" / "index.json").exists()
    # Deleted and announced as deleted: its id is refused to a new update, with
    # the state given by the environment, or another one by flag.
    (root / "s.md").write_text(story(body="## 2024-06-01 10:00 {#other}\n\nOther."))
    assert runner.invoke(cli, ["build", *args]).exit_code == 0
    for extra, environment in (([], env), (["--state", str(tmp_path / "new")], {"FEEDS_NOW": NOW})):
        result = CliRunner(env=environment).invoke(
            cli, ["add", "s", "Again.", "--at", "2024-06-01 09:00", "--id", "first", *args, *extra]
        )
        assert result.exit_code == 1 and "already has (or had)" in result.output


def test_the_settings_are_described_once(tmp_path: Path) -> None:
    keys = [s.key for s in SETTINGS]
    text = site_template({"title": "T", "base_url": "https://x.test/", "author": "A"})
    assert all(f"{k} = " in text for k in keys)  # set, or shown commented with its default
    init_help = CliRunner().invoke(cli, ["init", "--help"]).output
    reference = (REPO / "docs" / "store-format.md").read_text()
    for key, line in zip(keys, help_lines(), strict=True):
        assert key in init_help
        assert f"`{key}`" in reference, f"docs/store-format.md does not describe {key}"
        assert line.startswith(key)


@pytest.mark.parametrize("bad", ["out = 3", 'unknown = "x"'])
def test_bad_paths_in_site_toml_are_reported(
    bad: str, make_store: StoreFactory, tmp_path: Path
) -> None:
    root = make_store(site=SITE_TOML + bad + "\n", s=story(body=BODY))
    result = CliRunner(env={"FEEDS_NOW": NOW}).invoke(
        cli, ["build", "--data", str(root), "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == 1 and "site.toml:" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("line", ['out = "data"', 'state = "data/.feeds"', 'out = "data/public"'])
def test_output_and_state_stay_out_of_the_store(
    line: str, make_store: StoreFactory, tmp_path: Path
) -> None:
    root = make_store(site=SITE_TOML + line + "\n", s=story(body=BODY))
    result = CliRunner(env={"FEEDS_NOW": NOW}).invoke(cli, ["build", "--data", str(root)])
    assert result.exit_code == 1 and "is inside the store" in result.output
    assert sorted(p.name for p in root.iterdir()) == ["s.md", "site.toml"]


def test_a_busy_store_keeps_the_draft_and_the_exit_code(
    make_store: StoreFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from feeds import Workspace
    from feeds.store import files

    root = make_store(s=story(body=BODY))
    monkeypatch.setattr(files, "STORE_LOCK_WAIT", 0.1)
    monkeypatch.setattr("click.edit", lambda *a, **k: "Typed in the editor.\n")
    with Workspace.of(root, tmp_path / "out").store.writing():
        result = CliRunner(env={"FEEDS_NOW": NOW}).invoke(cli, ["add", "s", "--data", str(root)])
    assert result.exit_code == 75
    (draft,) = (tmp_path / ".feeds" / "drafts").iterdir()
    assert draft.read_text() == "Typed in the editor.\n"
