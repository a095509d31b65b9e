"""The loader's mechanics, on small declarations of the test's own: defaults per mode, the
whitespace rules, one report with every problem, cross rules, look-alikes, Config."""

from __future__ import annotations

import os
import re

import pytest

from ocore_flask.config import (
    REQUIRED,
    Check,
    Config,
    ConfigError,
    CrossRule,
    Derived,
    Mode,
    PerMode,
    Problem,
    Secret,
    Setting,
    kinds,
    load,
    resolve,
)
from ocore_flask.errors import EX_CONFIG

MODE = Setting(
    "ENVIRONMENT", kinds.choice("development", "staging", "production"), "mode", "production"
)
TOKEN = Setting(
    "DEMO_TOKEN",
    kinds.text(),
    "a secret",
    default=REQUIRED,
    secret=True,
    example="<token>",
    fix="make one with: demo-keygen",
    owner="demo",
)
COUNT = Setting("DEMO_COUNT", kinds.integer(1, 10), "a number", default="3", owner="demo")
LOW = Setting("DEMO_LOW", kinds.integer(0), "lower bound", default="1", owner="demo")
HIGH = Setting("DEMO_HIGH", kinds.integer(0), "upper bound", default="5", owner="demo")
STRICT_ONLY = Setting(
    "DEMO_KEY",
    kinds.text(),
    "required when strict",
    default=PerMode(development=None, strict=REQUIRED),
    secret=True,
    example="<key>",
    owner="demo",
)
FORMAT = Setting(
    "DEMO_FORMAT",
    kinds.choice("text", "json"),
    "per mode",
    default=PerMode(development="text", strict="json"),
    owner="demo",
)
URL = Setting("DEMO_URL", kinds.http_url(), "a URL", default="http://localhost:1", owner="demo")
PORT_OF_URL = Setting(
    "DEMO_URL_PORT",
    kinds.port(),
    "derived",
    default=Derived(
        "the port of DEMO_URL", lambda v: (v.get("DEMO_URL") or ":1").rsplit(":", 1)[-1]
    ),
    owner="demo",
)
NAME = Setting("DEMO_NAME", kinds.text(), "plain text", owner="demo")

LOW_HIGH = CrossRule(
    "DEMO_HIGH",
    ("DEMO_LOW",),
    ">= DEMO_LOW",
    lambda ctx: "below DEMO_LOW" if ctx.values["DEMO_HIGH"] < ctx.values["DEMO_LOW"] else None,
)

SETTINGS = (MODE, TOKEN, COUNT, LOW, HIGH, STRICT_ONLY, FORMAT, URL, PORT_OF_URL, NAME)
SECRET_VALUE = "tok-Xq7Lw2Rr9Zb4Nn6Mm1Kk8Jj3Hh5Gg0"
KEY_VALUE = "key-Pw3Ls8Dk1Fj6Gh9Qz2Xc5Vb7Nm4Ty0"
DEV = {"ENVIRONMENT": "development", "DEMO_TOKEN": SECRET_VALUE}
PROD = {"ENVIRONMENT": "production", "DEMO_TOKEN": SECRET_VALUE, "DEMO_KEY": KEY_VALUE}


def run(environ: dict[str, str], rules=(LOW_HIGH,), settings=SETTINGS) -> Config:
    return resolve(environ, settings, rules)


def errors_for(config: Config, name: str) -> list[str]:
    return [p.message for p in config.report.errors if p.variable == name]


# --- valid environments -------------------------------------------------------------------


def test_valid_development_environment() -> None:
    config = run(DEV)
    assert config.report.ok and config.report.problems == []
    assert config.mode is Mode.DEVELOPMENT
    assert config["DEMO_COUNT"] == 3
    assert config["DEMO_FORMAT"] == "text"
    assert config.get("DEMO_KEY") is None and config["DEMO_KEY"] is None
    assert config.sources["DEMO_COUNT"] == "default"
    assert config.sources["DEMO_TOKEN"] == "environment"
    assert config.sources["DEMO_KEY"] == "unset"
    assert config.sources["DEMO_URL_PORT"] == "derived"
    assert config["DEMO_URL_PORT"] == 1


def test_per_mode_defaults_follow_the_mode() -> None:
    assert run(PROD)["DEMO_FORMAT"] == "json"
    assert run({**PROD, "ENVIRONMENT": "staging"})["DEMO_FORMAT"] == "json"


def test_unset_environment_means_production() -> None:
    config = run({"DEMO_TOKEN": SECRET_VALUE})
    assert config.mode is Mode.PRODUCTION and config.mode.strict
    assert not config.report.mode_assumed
    assert errors_for(config, "DEMO_KEY")


def test_mode_is_read_first_whatever_the_declaration_order() -> None:
    reordered = (*SETTINGS[1:], MODE)
    config = run(DEV, settings=reordered)
    assert config.mode is Mode.DEVELOPMENT
    assert config.report.ok
    assert config["DEMO_FORMAT"] == "text"


def test_values_are_never_expanded() -> None:
    config = run({**DEV, "DEMO_NAME": "${HOME}/$USER/$(id)"})
    assert config["DEMO_NAME"] == "${HOME}/$USER/$(id)"


def test_only_the_given_mapping_is_read(isolated_environ) -> None:
    os.environ["DEMO_TOKEN"] = SECRET_VALUE
    os.environ["ENVIRONMENT"] = "development"
    config = run({})
    assert config.mode is Mode.PRODUCTION
    assert errors_for(config, "DEMO_TOKEN")


# --- missing, empty, whitespace -----------------------------------------------------------


def test_missing_required_names_the_variable_and_the_fix() -> None:
    config = run({"ENVIRONMENT": "development"})
    (message,) = errors_for(config, "DEMO_TOKEN")
    assert "is required but not set" in message
    assert "demo-keygen" in message
    assert " in development" not in message


def test_empty_required_is_reported_as_empty() -> None:
    (message,) = errors_for(run({**DEV, "DEMO_TOKEN": ""}), "DEMO_TOKEN")
    assert "set but empty" in message


@pytest.mark.parametrize("mode", ["staging", "production"])
def test_required_only_when_strict_says_so(mode: str) -> None:
    config = run({"ENVIRONMENT": mode, "DEMO_TOKEN": SECRET_VALUE})
    (message,) = errors_for(config, "DEMO_KEY")
    assert f"is required but not set in {mode}" in message
    assert "DEMO_KEY=<key>" in message  # no fix declared: the example shows the form


def test_empty_optional_falls_back_to_the_default() -> None:
    config = run({**DEV, "DEMO_COUNT": ""})
    assert config.report.ok
    assert config["DEMO_COUNT"] == 3 and config.sources["DEMO_COUNT"] == "default"


@pytest.mark.parametrize("raw", [" ", "   ", "\t", "\n", " \t\n "])
def test_whitespace_only_is_an_error(raw: str) -> None:
    (message,) = errors_for(run({**DEV, "DEMO_COUNT": raw}), "DEMO_COUNT")
    assert "only whitespace" in message


@pytest.mark.parametrize("raw", [" 4", "4 ", "\t4", "4\n", " 4 "])
def test_surrounding_whitespace_is_an_error(raw: str) -> None:
    (message,) = errors_for(run({**DEV, "DEMO_COUNT": raw}), "DEMO_COUNT")
    assert "leading or trailing whitespace" in message


def test_whitespace_around_a_secret_is_reported_without_the_secret() -> None:
    config = run({**DEV, "DEMO_TOKEN": f" {SECRET_VALUE} "})
    (message,) = errors_for(config, "DEMO_TOKEN")
    assert "whitespace" in message
    assert SECRET_VALUE not in config.report.render_text()


# --- malformed values ---------------------------------------------------------------------


def test_malformed_plain_value_is_quoted_for_the_operator() -> None:
    (message,) = errors_for(run({**DEV, "DEMO_COUNT": "lots"}), "DEMO_COUNT")
    assert "whole number" in message and "(got 'lots')" in message


def test_long_values_are_shortened_in_messages() -> None:
    raw = "9" * 100
    (message,) = errors_for(run({**DEV, "DEMO_COUNT": raw}), "DEMO_COUNT")
    assert "9" * 60 + "…" in message
    assert raw not in message


def test_malformed_secret_is_never_quoted() -> None:
    leaked = "tok-line-one\ntok-line-two-Zz9"
    config = run({**DEV, "DEMO_TOKEN": leaked})
    (message,) = errors_for(config, "DEMO_TOKEN")
    assert "single line" in message and "demo-keygen" in message
    assert "tok-line" not in message and "got" not in message


def test_an_invalid_derived_default_says_to_set_it_explicitly() -> None:
    (message,) = errors_for(run({**DEV, "DEMO_URL": "http://example.com"}), "DEMO_URL_PORT")
    assert "derived value" in message and "set DEMO_URL_PORT explicitly" in message


def test_every_problem_is_reported_in_one_go() -> None:
    config = run({"ENVIRONMENT": "production", "DEMO_COUNT": "11", "DEMO_URL": "nope"})
    assert {p.variable for p in config.report.errors} == {
        "DEMO_TOKEN",
        "DEMO_COUNT",
        "DEMO_KEY",
        "DEMO_URL",
    }


def test_several_failing_checks_on_one_value_are_all_reported() -> None:
    checks = (
        Check("short", lambda v, _: "too short" if len(v) < 5 else None),
        Check("digit", lambda v, _: "needs a digit" if not any(c.isdigit() for c in v) else None),
    )
    setting = Setting("DEMO_NAME", kinds.text(), "checked", checks=checks)
    config = resolve({"DEMO_NAME": "abc"}, (setting,))
    assert sorted(errors_for(config, "DEMO_NAME")) == ["needs a digit", "too short"]


def test_warning_checks_keep_the_value_and_do_not_fail() -> None:
    warn = Check("warn", lambda v, _: "looks odd", level="warning")
    setting = Setting("DEMO_NAME", kinds.text(), "warned", checks=(warn,), owner="demo")
    config = load({"DEMO_NAME": "x"}, (setting,))
    assert config["DEMO_NAME"] == "x"
    assert config.report.warnings == [Problem("DEMO_NAME", "looks odd", "warning", "demo")]


def test_checks_see_the_mode_and_earlier_values() -> None:
    seen = []
    check = Check("spy", lambda v, ctx: seen.append((ctx.mode, dict(ctx.values))))
    setting = Setting("DEMO_NAME", kinds.text(), "spied", checks=(check,))
    resolve({"ENVIRONMENT": "staging", "DEMO_NAME": "x"}, (MODE, setting))
    assert seen == [(Mode.STAGING, {"ENVIRONMENT": "staging"})]


def test_strict_only_checks_are_skipped_in_development() -> None:
    check = Check("strict", lambda v, _: "strict says no", applies="strict")
    setting = Setting("DEMO_NAME", kinds.text(), "x", checks=(check,))
    assert resolve({"ENVIRONMENT": "development", "DEMO_NAME": "x"}, (MODE, setting)).report.ok
    assert not resolve({"ENVIRONMENT": "staging", "DEMO_NAME": "x"}, (MODE, setting)).report.ok


# --- the mode itself ----------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "hint"), [("prod", "production"), ("develop", "development")])
def test_misspelt_mode_suggests_and_assumes_the_strict_rules(raw: str, hint: str) -> None:
    config = run({"ENVIRONMENT": raw, "DEMO_TOKEN": SECRET_VALUE})
    (message,) = errors_for(config, "ENVIRONMENT")
    assert f"did you mean {hint!r}" in message
    assert config.mode is Mode.PRODUCTION and config.report.mode_assumed
    assert errors_for(config, "DEMO_KEY"), "strict requirements apply while the mode is invalid"


def test_whitespace_around_the_mode_assumes_the_strict_rules() -> None:
    config = run({"ENVIRONMENT": " development", "DEMO_TOKEN": SECRET_VALUE})
    assert config.report.mode_assumed and config.mode.strict


# --- cross rules --------------------------------------------------------------------------


def test_cross_rule_reports_on_its_target() -> None:
    config = run({**DEV, "DEMO_LOW": "7", "DEMO_HIGH": "6"})
    assert [(p.variable, p.message, p.owner) for p in config.report.errors] == [
        ("DEMO_HIGH", "below DEMO_LOW", "demo")
    ]


def test_cross_rule_is_skipped_when_an_involved_setting_is_invalid() -> None:
    config = run({**DEV, "DEMO_LOW": "x", "DEMO_HIGH": "0"})
    assert [p.variable for p in config.report.errors] == ["DEMO_LOW"]
    config = run({**DEV, "DEMO_LOW": "3", "DEMO_HIGH": "-1"})
    assert [p.variable for p in config.report.errors] == ["DEMO_HIGH"]


def test_cross_rule_is_skipped_while_an_input_is_unset() -> None:
    optional_low = Setting("DEMO_LOW", kinds.integer(0), "optional low", owner="demo")
    settings = (MODE, optional_low, HIGH)
    assert resolve({"DEMO_HIGH": "0"}, settings, (LOW_HIGH,)).report.ok


def test_cross_rule_levels_and_modes() -> None:
    rule = CrossRule(
        "DEMO_HIGH", ("DEMO_LOW",), "hint", lambda ctx: "consider", "warning", "strict"
    )
    settings = (MODE, LOW, HIGH)
    strict = resolve({"ENVIRONMENT": "staging"}, settings, (rule,))
    assert strict.report.ok
    assert [(p.variable, p.level) for p in strict.report.warnings] == [("DEMO_HIGH", "warning")]
    assert resolve({"ENVIRONMENT": "development"}, settings, (rule,)).report.problems == []


# --- look-alikes, extra problems, ordering -----------------------------------------------


def test_lookalike_of_a_declared_name_is_a_warning_with_the_nearest_name() -> None:
    config = run({**DEV, "DEMO_TOKNE": "whatever-value"})
    assert config.report.ok
    (warning,) = config.report.warnings
    assert warning.variable == "DEMO_TOKNE"
    assert "did you mean DEMO_TOKEN" in warning.message
    assert warning.owner == "demo"
    assert "whatever-value" not in warning.message


@pytest.mark.parametrize("name", ["HOME", "DEMOTOKEN", "OTHER_TOKEN", "DEMO_SOMETHING_ELSE"])
def test_unrelated_variables_are_ignored(name: str) -> None:
    assert run({**DEV, name: "1"}).report.problems == []


def test_given_problems_join_the_report_errors_first_in_declaration_order() -> None:
    extra = [Problem("plugin:x", "broken", "error", "x")]
    config = resolve(
        {"ENVIRONMENT": "production", "DEMO_COUNT": "0", "DEMO_TOKNE": "1"},
        SETTINGS,
        (LOW_HIGH,),
        extra,
    )
    variables = [(p.level, p.variable) for p in config.report.problems]
    assert variables == [
        ("error", "DEMO_TOKEN"),
        ("error", "DEMO_COUNT"),
        ("error", "DEMO_KEY"),
        ("error", "plugin:x"),
        ("warning", "DEMO_TOKNE"),
    ]


# --- load and Config ----------------------------------------------------------------------


def test_load_raises_config_error_with_the_whole_report() -> None:
    with pytest.raises(ConfigError) as info:
        load({"ENVIRONMENT": "production"}, SETTINGS, (LOW_HIGH,))
    error = info.value
    assert error.exit_code == EX_CONFIG == 78
    assert {p.variable for p in error.report.errors} == {"DEMO_TOKEN", "DEMO_KEY"}
    assert "DEMO_TOKEN" in str(error) and "DEMO_KEY" in str(error)
    assert error.render() == error.report.render_text()


def test_load_returns_the_config_when_valid() -> None:
    config = load(PROD, SETTINGS, (LOW_HIGH,))
    assert config.report.ok
    # an optional setting without a default is in the mapping as None
    assert set(config) == {s.name for s in SETTINGS}
    assert len(config) == len(SETTINGS)
    assert config["DEMO_NAME"] is None and config.plain("DEMO_NAME") is None


def test_secrets_come_back_wrapped() -> None:
    config = load(DEV, SETTINGS)
    token = config["DEMO_TOKEN"]
    assert isinstance(token, Secret)
    assert token.reveal() == SECRET_VALUE == config.plain("DEMO_TOKEN")
    assert SECRET_VALUE not in repr(token) and SECRET_VALUE not in str(token)
    assert repr(token) == f"Secret({config.describe('DEMO_TOKEN')})"


def test_config_repr_and_describe_never_show_secrets() -> None:
    config = load(PROD, SETTINGS)
    assert SECRET_VALUE not in repr(config)
    assert re.fullmatch(r"set \(local fingerprint [0-9a-f]{8}\)", config.describe("DEMO_TOKEN"))
    assert config.describe("DEMO_COUNT") == "3"
    assert config.describe("DEMO_NAME") == "unset"


def test_secret_values_lists_every_configured_secret() -> None:
    config = load(PROD, SETTINGS)
    assert config.secret_values() == [SECRET_VALUE, KEY_VALUE]
    assert load(DEV, SETTINGS).secret_values() == [SECRET_VALUE]
