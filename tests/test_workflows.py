"""The GitHub workflows parse and run the same commands as CI (``.ci/run``) and the README.

``.github/workflows/test.yml`` runs the README's ``make test``; ``book.yml`` runs
``make book`` and ``make browser-test`` and deploys ``_build/html`` to GitHub Pages
with the official actions. Static checks only (nothing is run).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
MAKE = re.compile(r"(?:^|[\s;&|(])make\s+([A-Za-z][\w-]*)")


def make_targets(script: str) -> list[str]:
    """``make`` targets a shell script calls, in order (comments and ``echo`` lines ignored)."""
    out = []
    for line in script.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith(("echo ", "printf ")):
            continue
        out.extend(MAKE.findall(line))
    return out


def load(name: str) -> dict:
    wf = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    assert isinstance(wf, dict), f"{name} is not a YAML mapping"
    return wf


def triggers(wf: dict) -> dict:
    """The ``on:`` section (PyYAML reads the bare key ``on`` as the boolean True)."""
    on = wf.get("on", wf.get(True))
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return dict.fromkeys(on)
    return on or {}


def steps(wf: dict) -> list[dict]:
    return [s for job in wf["jobs"].values() for s in job.get("steps", [])]


def workflow_targets(wf: dict) -> list[str]:
    return [t for s in steps(wf) for t in make_targets(s.get("run", ""))]


def uses(wf: dict) -> list[str]:
    """``owner/action`` of every step that uses an action (without the ``@version``)."""
    return [s["uses"].split("@")[0] for s in steps(wf) if "uses" in s]


def ci_targets() -> list[str]:
    return make_targets((ROOT / ".ci" / "run").read_text(encoding="utf-8"))


def readme_targets() -> set[str]:
    """Targets of the ``make`` commands in the README's shell blocks."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```(?:bash|sh|console)\n(.*?)```", text, re.S)
    return {t for b in blocks for t in make_targets(b)}


def test_make_target_parser():
    script = 'set -e\necho "== make nothing"\nmake test  # unit\nLRBOOK_SCALE=ci make book\nfoo && make x-y\n'
    assert make_targets(script) == ["test", "book", "x-y"]


@pytest.mark.parametrize("name", ["test.yml", "book.yml"])
def test_workflow_parses_and_pins_actions(name):
    wf = load(name)
    assert wf.get("name") and wf.get("jobs"), name
    for job_id, job in wf["jobs"].items():
        assert job.get("runs-on"), f"{name}: job {job_id} has no runs-on"
        assert job.get("steps"), f"{name}: job {job_id} has no steps"
    for s in steps(wf):
        assert ("run" in s) != ("uses" in s), f"{name}: a step needs exactly one of run/uses: {s}"
        if "uses" in s:
            assert re.fullmatch(r"[\w.-]+/[\w./-]+@v\d+", s["uses"]), f"{name}: pin a major version: {s['uses']}"


def test_ci_runs_the_readme_commands():
    ci = ci_targets()
    assert ci[:2] == ["test", "book"], f".ci/run should start with make test, make book; runs {ci}"
    assert {"test", "book"} <= readme_targets(), "the README documents make test and make book"
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for target in set(ci):
        assert re.search(rf"^{re.escape(target)}:", makefile, re.M), f"Makefile has no target {target!r}"


def test_test_workflow_runs_make_test_on_push_and_pr():
    wf = load("test.yml")
    assert {"push", "pull_request"} <= set(triggers(wf))
    assert workflow_targets(wf) == ["test", "lint"]
    assert "actions/checkout" in uses(wf) and "actions/setup-python" in uses(wf)
    versions = [str(s["with"]["python-version"]) for s in steps(wf)
                if s.get("uses", "").startswith("actions/setup-python")]
    assert versions == ["3.11"], versions


def test_book_workflow_builds_and_deploys_to_pages():
    wf = load("book.yml")
    assert "push" in triggers(wf)
    assert workflow_targets(wf) == ["book", "browser-test"]
    perms = wf.get("permissions", {})
    assert perms.get("pages") == "write" and perms.get("id-token") == "write", perms
    used = uses(wf)
    for action in ("actions/checkout", "actions/setup-python", "actions/upload-pages-artifact",
                   "actions/deploy-pages"):
        assert action in used, f"book.yml does not use {action}"
    assert used.index("actions/upload-pages-artifact") < used.index("actions/deploy-pages")
    upload = next(s for s in steps(wf) if s.get("uses", "").startswith("actions/upload-pages-artifact"))
    assert upload["with"]["path"].rstrip("/") == "_build/html"
    assert re.search(r"^BUILD := _build$", (ROOT / "Makefile").read_text(encoding="utf-8"), re.M), \
        "the Makefile's build folder moved: update book.yml's artifact path"
    deploy = next(j for j in wf["jobs"].values() if any(s.get("uses", "").startswith("actions/deploy-pages")
                                                        for s in j["steps"]))
    assert deploy.get("needs") and deploy["environment"]["name"] == "github-pages"


def test_workflows_call_the_same_make_targets_as_ci():
    in_workflows = set(workflow_targets(load("test.yml")) + workflow_targets(load("book.yml")))
    assert in_workflows == set(ci_targets()), (
        f"workflows run make {sorted(in_workflows)}, .ci/run runs make {sorted(set(ci_targets()))}")
