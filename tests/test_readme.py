"""The README's promise: .ci/run runs exactly the README's test command."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _commands(text: str) -> list[str]:
    lines = text.splitlines()
    return [lines[i + 1] for i, line in enumerate(lines[:-1]) if line.strip() == "```bash"]


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    commands = _commands(readme)
    test_cmd = next(c for c in commands if "pytest" in c)
    main_cmd = next(c for c in commands if "verify-theorem 4.1 --d 10" in c)
    assert main_cmd.startswith("python3.11 -m venv .venv")
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_cmd in ci


def test_the_five_line_use_runs_as_printed(capsys):
    readme = (ROOT / "README.md").read_text()
    start = readme.index("### Check any network: five lines")
    block = readme[
        readme.index("```python", start) + len("```python") : readme.index(
            "```", readme.index("```python", start) + 9
        )
    ]
    assert len([ln for ln in block.strip().splitlines() if ln.strip()]) <= 6
    exec(compile(block, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "network: 2-MLP-Bias" in out
    assert "verdict: the theory holds on this network" in out
    assert "flattest: Tr(H) = Jacobian bound" in out and "yes" in out
