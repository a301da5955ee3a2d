"""Corpus of AWS-style mapping templates (tests/mapping/corpus/*.case), each rendered and compared exactly."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from apigate.dataplane.mapping import Template, render_mapping

CORPUS = Path(__file__).parent / "corpus"
_HEADER = re.compile(r"^=== (\w+)\n", re.MULTILINE)


def load_case(path: Path) -> dict[str, str]:
    text = path.read_text()
    headers = list(_HEADER.finditer(text))
    sections: dict[str, str] = {}
    for i, header in enumerate(headers):
        end = headers[i + 1].start() if i + 1 < len(headers) else len(text)
        body = text[header.end() : end]
        sections[header.group(1)] = body[:-1] if body.endswith("\n") else body
    return sections


CASES = sorted(CORPUS.glob("*.case"))


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 40


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_corpus_case(path: Path) -> None:
    case = load_case(path)
    template = Template.parse(case["template"])
    output, overrides = render_mapping(
        template,
        body=case.get("body", ""),
        params=json.loads(case.get("params") or "{}"),
        context=json.loads(case.get("context") or "{}"),
        stage_variables=json.loads(case.get("stage_variables") or "{}"),
    )
    assert output == case["expected"]
    expected_overrides = json.loads(case.get("overrides") or "{}")
    assert _set_overrides(overrides) == expected_overrides


def _set_overrides(overrides: dict[str, dict[str, object]]) -> dict[str, object]:
    """Only what the template set: ``{"responseOverride": {"status": 400}}``."""
    found: dict[str, object] = {}
    for group, values in overrides.items():
        kept = {k: v for k, v in values.items() if v != {}}
        if kept:
            found[group] = kept
    return found
