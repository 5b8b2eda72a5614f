"""The README's set-up commands are the ones CI runs, and what they name exists."""

from __future__ import annotations

import re
import shlex

from .conftest import REPO_ROOT


def _setup_commands() -> list[str]:
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", section, re.S)]


def test_readme_has_exactly_two_setup_commands():
    commands = _setup_commands()
    assert len(commands) == 2
    assert all("\n" not in c for c in commands)
    install_and_run, install_and_test = commands
    assert "sksplice decompose" in install_and_run
    assert install_and_test.endswith("pytest")


def test_ci_runs_the_readme_test_command():
    ci = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8")
    block = ci.split("# test-command: begin\n", 1)[1].split("# test-command: end", 1)[0]
    assert block.strip() == _setup_commands()[1]


def test_readme_main_command_names_existing_files():
    words = shlex.split(_setup_commands()[0].replace("&&", ";"))
    assert "constraints.txt" in words
    image = words[words.index("decompose") + 1]
    assert (REPO_ROOT / image).is_file()
    pins = (REPO_ROOT / "constraints.txt").read_text()
    assert "torch==2.14.1" in pins and "torchvision==0.29.1" in pins


def test_readme_links_resolve():
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    for target in re.findall(r"\]\(((?!https?://)[^)#]+)\)", text):
        assert (REPO_ROOT / target).exists(), f"README links to missing {target}"
