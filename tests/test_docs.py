"""The docs' promises: the README's commands are the ones CI runs, its tour runs as written
without touching data/, every link leads somewhere, every command and setting is documented,
and the command reference is the commands' current --help."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from feeds.cli import cli
from feeds.cli_reference import SEE_ALSO
from feeds.settings import SETTINGS

from .conftest import REPO, SHIPPED_DATA, files_under

DOCS = REPO / "docs"
README = (REPO / "README.md").read_text(encoding="utf-8")
PAGES = [REPO / "README.md", *sorted(DOCS.glob("*.md"))]


def text_of(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def shell_blocks(text: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", text, flags=re.S)


def section(text: str, heading: str) -> str:
    """The text under a heading, up to the next heading of the same level or above
    (a `# comment` in a code block is not one)."""
    level = len(heading.split(" ", 1)[0])
    lines = text.splitlines()
    start = lines.index(heading) + 1
    fenced = False
    for end in range(start, len(lines)):
        fenced ^= lines[end].lstrip().startswith("```")
        hashes = re.match(r"(#+) ", lines[end])
        if not fenced and hashes and len(hashes.group(1)) <= level:
            return "\n".join(lines[start:end])
    return "\n".join(lines[start:])


def sh_lines(text: str) -> list[tuple[str, str]]:
    """(command, comment) for every line of the sh blocks in text; a comment starts at
    two spaces and a #."""
    lines = []
    for block in shell_blocks(text):
        for line in block.splitlines():
            command, _, comment = line.partition("  #")
            if command.strip() and not command.lstrip().startswith("#"):
                lines.append((command.strip(), comment.strip()))
    return lines


# --- the README -----------------------------------------------------------------------


def test_readme_opens_with_the_two_commands_and_ci_runs_the_second() -> None:
    build_cmd, test_cmd = (block.strip() for block in shell_blocks(README)[:2])
    assert build_cmd.endswith("feeds build")
    assert "pip install" in build_cmd and "venv" in build_cmd
    assert "pytest" in test_cmd
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert test_cmd in ci.splitlines()


def test_the_readme_stays_short() -> None:
    assert len(README.splitlines()) < 250, "move details to docs/, keep the README a start"


def test_every_doc_is_linked_from_the_readme() -> None:
    for page in DOCS.glob("*.md"):
        assert f"(docs/{page.name}" in README, f"link docs/{page.name} from the README"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as err:
        return err.code


def _serve_and_look(prelude: list[str], cwd: Path, command: str, env: dict[str, str]) -> None:
    """`feeds serve` runs until Ctrl-C: start it on a free port, fetch the site's page and
    every story's, then stop it as Ctrl-C would."""
    port = _free_port()
    script = "\n".join([*prelude, f"cd {shlex.quote(str(cwd))}", f"exec {command} --port {port}"])
    server = subprocess.Popen(
        ["bash", "-c", script],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            assert server.poll() is None, (command, server.communicate())
            try:
                status = _get(f"http://127.0.0.1:{port}/")
                break
            except OSError:
                assert time.monotonic() < deadline, f"{command}: nothing answers on {port}"
                time.sleep(0.1)
        assert status == 200, command
        slugs = [p.stem for p in (cwd / "data").glob("*.md") if not p.name.startswith(("_", "."))]
        assert slugs
        for slug in slugs:
            assert _get(f"http://127.0.0.1:{port}/{slug}/") == 200, (command, slug)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.communicate()
    assert server.returncode == 0, (command, server.returncode)


@pytest.mark.slow
def test_the_tour_runs_as_written_and_leaves_data_untouched(tmp_path: Path) -> None:
    """Every command of the README's tour, in order, in a copy of the clone with a home
    folder of its own, with `feeds` on PATH only once the tour has activated the venv."""
    activate = Path(sys.prefix) / "bin" / "activate"
    if not activate.exists():
        pytest.skip("the tests do not run from a virtual environment")
    tour = [command for command, _ in sh_lines(section(README, "## Five-minute tour"))]
    assert tour[0] == "source .venv/bin/activate", "the tour starts by activating the venv"
    assert any(c.startswith("feeds serve") for c in tour)

    clone, home = tmp_path / "clone", tmp_path / "home"
    skip = (".git", ".venv", "out", ".feeds", ".*_cache", ".hypothesis", "test-artifacts")
    shutil.copytree(REPO, clone, ignore=shutil.ignore_patterns(*skip, "__pycache__"))
    (clone / ".venv").symlink_to(Path(sys.prefix))
    home.mkdir()
    shipped, copied = files_under(SHIPPED_DATA), files_under(clone / "data")
    venv_bin = str(Path(sys.prefix) / "bin")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("FEEDS_", "VIRTUAL_ENV", "PYTHON"))
    }
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if p != venv_bin)
    env["HOME"] = str(home)

    cwd, prelude, where = clone, [], tmp_path / "cwd"
    for command in tour:
        if command.startswith("feeds serve"):
            _serve_and_look(prelude, cwd, command, env)
            continue
        script = "\n".join(
            [*prelude, f"cd {shlex.quote(str(cwd))}", command, "status=$?"]
            + [f"pwd > {shlex.quote(str(where))}"]
            + ["exit $status"]
        )
        done = subprocess.run(
            ["bash", "-c", script], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, (command, done.stdout, done.stderr)
        if command.startswith(("source ", ". ")):
            prelude.append(f"cd {shlex.quote(str(cwd))} && {command}")
        cwd = Path(where.read_text().strip())

    assert files_under(clone / "data") == copied, "the tour changed data/: work on a copy"
    assert files_under(SHIPPED_DATA) == shipped
    site = cwd  # where the tour left off: its own site, every story built
    assert site != clone and (site / "data").is_dir()
    for story in (site / "data").glob("*.md"):
        assert (site / "out" / story.stem / "atom.xml").is_file(), story.stem


# --- the guides -----------------------------------------------------------------------


def test_the_writing_walkthrough_runs_as_written(tmp_path: Path) -> None:
    """Every line of docs/writing.md's "A typical night" block, except the one that opens
    an editor."""
    block = section(text_of("writing.md"), "## A typical night")
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "FEEDS_NOW": "2018-05-17T01:30:00+04:30",
    }
    cwd = tmp_path
    lines = sh_lines(block)
    assert lines
    for command, comment in lines:
        if "$EDITOR" in comment:
            continue
        if command.startswith("cd "):
            cwd = cwd / command[3:]
            continue
        done = subprocess.run(
            ["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, (command, done.stdout, done.stderr)
    assert "kazerun" in done.stdout and "ended" in done.stdout  # the last line: feeds list


def test_every_setting_is_in_the_settings_table() -> None:
    """The table in docs/store-format.md has every setting of the schema, in its order
    (that of feeds init --help), with its default."""
    table = section(text_of("store-format.md"), "### Every setting")
    rows = dict(re.findall(r"^\| `(\w+)` \| ([^|]+) \|", table, flags=re.M))
    assert list(rows) == [s.key for s in SETTINGS]
    for s in SETTINGS:
        if s.default is None:
            shown = "required"
        elif isinstance(s.default, int):
            shown = f"`{s.default}`"
        else:
            shown = f'`"{s.default}"`'
        assert rows[s.key].strip().startswith(shown), f"{s.key}: the default is {shown}"


# --- the command reference ------------------------------------------------------------


def test_every_command_is_in_the_reference_and_explained_in_a_guide() -> None:
    reference = text_of("commands.md")
    for name in cli.commands:
        assert re.search(rf"^### `feeds {name}`$", reference, flags=re.M), f"`feeds {name}`"
        assert SEE_ALSO.get(name), f"link `feeds {name}` to its guide in feeds/cli_reference.py"


def test_the_command_reference_is_the_current_help() -> None:
    """In a process of its own: click keeps state in the command objects (the help
    option, once made) that other tests' invocations could have set."""
    generated = subprocess.run(
        [sys.executable, "-m", "feeds.cli_reference"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "COLUMNS": "40"},  # the terminal's width must not matter
    ).stdout
    assert text_of("commands.md") == generated, (
        "docs/commands.md is stale: .venv/bin/python -m feeds.cli_reference docs/commands.md"
    )


# --- links ----------------------------------------------------------------------------


def _outside_code(text: str) -> list[str]:
    """The lines of a Markdown text that are not in a fenced code block."""
    lines, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(line)
    return lines


def anchors(page: Path) -> set[str]:
    """The #fragments GitHub gives the page's headings."""
    found: set[str] = set()
    for line in _outside_code(page.read_text(encoding="utf-8")):
        heading = re.match(r"#{1,6} (.+)", line)
        if heading:
            slug = re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower()).replace(" ", "-")
            n = 0
            while (f"{slug}-{n}" if n else slug) in found:
                n += 1
            found.add(f"{slug}-{n}" if n else slug)
    return found


def links(page: Path) -> list[str]:
    text = "\n".join(_outside_code(page.read_text(encoding="utf-8")))
    text = re.sub(r"`[^`\n]*`", "code", text)  # inline code is not a link
    return re.findall(r"\]\(([^)\s]+)\)", text)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_relative_link_leads_somewhere(page: Path) -> None:
    broken = []
    for target in links(page):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):
            continue  # https:, mailto:
        path, _, fragment = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{target}: no such file")
        elif fragment and (file.suffix != ".md" or fragment not in anchors(file)):
            broken.append(f"{target}: no heading #{fragment} in {file.name}")
    assert not broken, f"{page.relative_to(REPO)}: {broken}"


def test_the_link_checker_knows_githubs_anchors(tmp_path: Path) -> None:
    page = tmp_path / "p.md"
    page.write_text(
        "# Output: `out/`\n\n```sh\n# not a heading\n```\n\n## Point every reporter's `feeds` at it"
        "\n\n## Notes\n\n## Notes\n\nSee [a](#notes-1), `[b](#nowhere)`.\n",
        encoding="utf-8",
    )
    assert anchors(page) == {"output-out", "point-every-reporters-feeds-at-it", "notes", "notes-1"}
    assert links(page) == ["#notes-1"]
