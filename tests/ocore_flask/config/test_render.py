"""Views derived from the declarations: docs table, example env file, config-show rows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ocore_database.testing import first_party_plugins
from ocore_flask.config import (
    REQUIRED,
    Check,
    CrossRule,
    Derived,
    PerMode,
    Setting,
    kinds,
    render,
    resolve,
)
from ocore_flask.discovery import load_plugins
from ocore_flask.testing import JWT_SECRET

README = Path(__file__).resolve().parents[3] / "README.md"

SECRET = Setting(
    "DEMO_TOKEN",
    kinds.text(),
    "A token | with a pipe.",
    default=REQUIRED,
    secret=True,
    example="<demo token>",
    checks=(Check("long", lambda v, _: None), Check("strong", lambda v, _: None, applies="strict")),
    owner="demo",
)
PLAIN = Setting("DEMO_COUNT", kinds.integer(1, 9), "A count.", default="3", owner="demo")
PER_MODE = Setting(
    "DEMO_FORMAT",
    kinds.choice("text", "json"),
    "A format.",
    default=PerMode(development="text", strict="json"),
    example="json",
    owner="demo",
)
SAME = Setting("DEMO_SAME", kinds.text(), "Same.", default=PerMode("x", "x"), owner="other")
DERIVED = Setting(
    "DEMO_ORIGIN",
    kinds.text(),
    "Derived.",
    default=Derived("the origin of DEMO_URL", lambda v: None),
    example="https://x.example",
    owner="other",
)
OPTIONAL = Setting("DEMO_NOTE", kinds.text(), "Optional.", example="hello", owner="demo")
STRICT_REQUIRED = Setting(
    "DEMO_KEY",
    kinds.text(),
    "Strictly required.",
    default=PerMode(development=None, strict=REQUIRED),
    secret=True,
    owner="other",
)
RULE = CrossRule("DEMO_COUNT", ("DEMO_FORMAT",), "fits the format", lambda ctx: None)
SETTINGS = (SECRET, PLAIN, SAME, PER_MODE, DERIVED, OPTIONAL, STRICT_REQUIRED)


def first_party_declarations():
    found = load_plugins({}, first_party_plugins())
    return found.settings, found.cross_rules


# --- defaults and rules text --------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "text"),
    [
        (SECRET, "**required**"),
        (PLAIN, "`3`"),
        (PER_MODE, "development: `text`; strict: `json`"),
        (SAME, "`x`"),
        (DERIVED, "the origin of DEMO_URL"),
        (OPTIONAL, "unset"),
        (STRICT_REQUIRED, "development: unset; strict: **required**"),
    ],
)
def test_describe_default(setting: Setting, text: str) -> None:
    assert render.describe_default(setting) == text


def test_rules_text_lists_kind_checks_cross_rules_and_secrecy() -> None:
    assert render.rules_text(SECRET, [RULE]) == (
        "text; long; staging/production: strong; "
        "staging/production: differs from every other secret; secret (never printed)"
    )
    assert render.rules_text(PLAIN, [RULE]) == "whole number from 1 to 9; fits the format"
    assert render.rules_text(PER_MODE, [RULE]) == "one of text, json"


# --- markdown -----------------------------------------------------------------------------


def test_markdown_has_one_row_per_setting_grouped_by_owner() -> None:
    doc = render.markdown(SETTINGS, [RULE])
    lines = doc.splitlines()
    assert lines[0] == render.DOCS_BEGIN and lines[-1] == render.DOCS_END
    rows = [line for line in lines if line.startswith("| `")]
    assert [row.split("`")[1] for row in rows] == [
        "DEMO_TOKEN",
        "DEMO_COUNT",
        "DEMO_FORMAT",
        "DEMO_NOTE",
        "DEMO_SAME",
        "DEMO_ORIGIN",
        "DEMO_KEY",
    ]
    assert "A token \\| with a pipe." in doc
    assert all(len(re.split(r"(?<!\\)\|", row)) == 7 for row in rows)  # 5 cells


def test_markdown_lists_every_first_party_setting() -> None:
    settings, rules = first_party_declarations()
    doc = render.markdown(settings, rules)
    for setting in settings:
        assert f"| `{setting.name}` | {setting.owner} |" in doc


def test_readme_reference_matches_the_declarations() -> None:
    settings, rules = first_party_declarations()
    text = README.read_text(encoding="utf-8")
    block = text[text.index(render.DOCS_BEGIN) : text.index(render.DOCS_END)]
    assert block + render.DOCS_END + "\n" == render.markdown(settings, rules), (
        "README settings table drifted: regenerate it with `ocore config docs`"
    )


def test_splice_replaces_the_generated_block_only() -> None:
    doc = f"# Title\n\n{render.DOCS_BEGIN}\nold table\n{render.DOCS_END}\n\nafter\n"
    block = render.markdown((PLAIN,), ())
    spliced = render.splice(doc, block)
    assert spliced.startswith("# Title\n\n" + render.DOCS_BEGIN)
    assert spliced.endswith(render.DOCS_END + "\n\nafter\n")
    assert "old table" not in spliced and "`DEMO_COUNT`" in spliced
    assert render.splice(spliced, block) == spliced


# --- example env file ---------------------------------------------------------------------


def assignments(text: str) -> dict[str, tuple[bool, str]]:
    """NAME -> (commented?, value) for every assignment line of an example file."""
    found = {}
    for line in text.splitlines():
        body = line[2:] if line.startswith("# ") else line
        name, sep, value = body.partition("=")
        if sep and name.isupper() and " " not in name:
            found[name] = (line.startswith("#"), value)
    return found


def test_example_uncomments_required_and_comments_optional() -> None:
    lines = assignments(render.example_env(SETTINGS, [RULE]))
    assert lines == {
        "DEMO_TOKEN": (False, "<demo token>"),
        "DEMO_COUNT": (True, "3"),
        "DEMO_FORMAT": (True, "json"),
        "DEMO_NOTE": (True, "hello"),
        "DEMO_SAME": (True, "x"),
        "DEMO_ORIGIN": (True, "https://x.example"),
        "DEMO_KEY": (False, "<fill in>"),
    }


def test_example_has_a_section_per_owner_and_describes_each_setting() -> None:
    text = render.example_env(SETTINGS, [RULE])
    assert text.count("# --- demo ---") == 1 and text.count("# --- other ---") == 1
    for setting in SETTINGS:
        assert f"# {setting.description}" in text
    assert "# Default: required. Rules: text; long;" in text


def test_example_covers_every_first_party_setting_once() -> None:
    settings, rules = first_party_declarations()
    text = render.example_env(settings, rules)
    lines = assignments(text)
    assert set(lines) == {s.name for s in settings}
    required = {name for name, (commented, _) in lines.items() if not commented}
    assert required == {"JWT_SECRET", "DATABASE_URL", "SSH_ENCRYPTION_KEY"}


def test_example_placeholders_are_rejected_as_values() -> None:
    settings, rules = first_party_declarations()
    lines = assignments(render.example_env(settings, rules))
    environ = {name: value for name, (commented, value) in lines.items() if not commented}
    for mode in ("development", "production"):
        config = resolve({**environ, "ENVIRONMENT": mode}, settings, rules)
        assert {p.variable for p in config.report.errors} == set(environ), mode


# --- config show rows ---------------------------------------------------------------------


def test_show_rows_mask_secrets_and_flag_invalid_values() -> None:
    config = resolve(
        {"ENVIRONMENT": "production", "DEMO_TOKEN": JWT_SECRET, "DEMO_COUNT": "12"}, SETTINGS
    )
    rows = {row["name"]: row for row in render.show_rows(config)}
    assert list(rows) == [s.name for s in SETTINGS]
    assert set(rows["DEMO_TOKEN"]) == {"name", "owner", "value", "source", "secret", "errors"}
    token = rows["DEMO_TOKEN"]
    assert re.fullmatch(r"set \(local fingerprint [0-9a-f]{8}\)", token["value"])
    assert (token["source"], token["secret"], token["owner"]) == ("environment", True, "demo")
    assert JWT_SECRET not in repr(rows)
    count = rows["DEMO_COUNT"]
    assert count["value"] == "invalid" and count["errors"] and "1 to 9" in count["errors"][0]
    assert rows["DEMO_FORMAT"]["value"] == "json" and rows["DEMO_FORMAT"]["source"] == "default"
    assert rows["DEMO_NOTE"]["value"] == "unset" and rows["DEMO_NOTE"]["source"] == "unset"
    assert rows["DEMO_KEY"]["value"] == "invalid"
