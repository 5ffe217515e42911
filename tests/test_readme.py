from __future__ import annotations

from pathlib import Path
import re


def test_readme_example_runs_as_written() -> None:
    text = (Path(__file__).parents[1] / "README.md").read_text()
    block = re.search(r"<!-- example:.*?-->\s*```python\n(.*?)```", text, re.S)
    assert block is not None
    scope: dict[str, object] = {}
    exec(compile(block.group(1), "README.md", "exec"), scope)
    study = scope["study"]
    trials = study.trials  # type: ignore[attr-defined]
    assert len(trials) == 20
    assert any(t.constraints["ring"] <= 0 for t in study.best_trials)  # type: ignore[attr-defined]
