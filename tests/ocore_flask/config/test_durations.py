"""Go-exact durations: Go's own test tables for time.ParseDuration and Duration.String, plus
cases whose expected results were taken from running Go 1.19.8's time package."""

from __future__ import annotations

import datetime
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocore_flask.config.durations import Duration, DurationError, parse_duration

NS = 1
US = 1000 * NS
MS = 1000 * US
S = 1000 * MS
M = 60 * S
H = 60 * M
MAX = (1 << 63) - 1
MIN = -(1 << 63)

# parseDurationTests, src/time/time_test.go.
GO_PARSE_DURATION_TESTS: list[tuple[str, int]] = [
    # simple
    ("0", 0),
    ("5s", 5 * S),
    ("30s", 30 * S),
    ("1478s", 1478 * S),
    # sign
    ("-5s", -5 * S),
    ("+5s", 5 * S),
    ("-0", 0),
    ("+0", 0),
    # decimal
    ("5.0s", 5 * S),
    ("5.6s", 5 * S + 600 * MS),
    ("5.s", 5 * S),
    (".5s", 500 * MS),
    ("1.0s", 1 * S),
    ("1.00s", 1 * S),
    ("1.004s", 1 * S + 4 * MS),
    ("1.0040s", 1 * S + 4 * MS),
    ("100.00100s", 100 * S + 1 * MS),
    # different units
    ("10ns", 10 * NS),
    ("11us", 11 * US),
    ("12\u00b5s", 12 * US),
    ("12\u03bcs", 12 * US),
    ("13ms", 13 * MS),
    ("14s", 14 * S),
    ("15m", 15 * M),
    ("16h", 16 * H),
    # composite durations
    ("3h30m", 3 * H + 30 * M),
    ("10.5s4m", 4 * M + 10 * S + 500 * MS),
    ("-2m3.4s", -(2 * M + 3 * S + 400 * MS)),
    ("1h2m3s4ms5us6ns", 1 * H + 2 * M + 3 * S + 4 * MS + 5 * US + 6 * NS),
    ("39h9m14.425s", 39 * H + 9 * M + 14 * S + 425 * MS),
    # large value
    ("52763797000ns", 52763797000 * NS),
    # more than 9 digits after decimal point, see https://golang.org/issue/6617
    ("0.3333333333333333333h", 20 * M),
    # 9007199254740993 = 1<<53+1 cannot be stored precisely in a float64
    ("9007199254740993ns", (1 << 53) + 1),
    # largest duration that can be represented by int64 in nanoseconds
    ("9223372036854775807ns", MAX),
    ("9223372036854775.807us", MAX),
    ("9223372036s854ms775us807ns", MAX),
    ("-9223372036854775808ns", MIN),
    ("-9223372036854775.808us", MIN),
    ("-9223372036s854ms775us808ns", MIN),
    # largest negative value
    ("-9223372036854775808ns", MIN),
    # largest negative round trip value, see https://golang.org/issue/48629
    ("-2562047h47m16.854775808s", MIN),
    # huge string; issue 15011.
    ("0.100000000000000000000h", 6 * M),
    # This value tests the first overflow check in leadingFraction.
    ("0.830103483285477580700h", 49 * M + 48 * S + 372539827 * NS),
]

# parseDurationErrorTests, src/time/time_test.go: Go checks the error contains `expect`.
GO_PARSE_DURATION_ERROR_TESTS: list[tuple[str | bytes, str]] = [
    # invalid
    ("", '""'),
    ("3", '"3"'),
    ("-", '"-"'),
    ("s", '"s"'),
    (".", '"."'),
    ("-.", '"-."'),
    (".s", '".s"'),
    ("+.s", '"+.s"'),
    ("1d", '"1d"'),
    (b"\x85\x85", '"\\x85\\x85"'),
    (b"\xffff", '"\\xffff"'),
    (b"hello \xffff world", '"hello \\xffff world"'),
    ("\ufffd", '"\\xef\\xbf\\xbd"'),
    ("\ufffd hello \ufffd world", '"\\xef\\xbf\\xbd hello \\xef\\xbf\\xbd world"'),
    # overflow
    ("9223372036854775810ns", '"9223372036854775810ns"'),
    ("9223372036854775808ns", '"9223372036854775808ns"'),
    ("-9223372036854775809ns", '"-9223372036854775809ns"'),
    ("9223372036854776us", '"9223372036854776us"'),
    ("3000000h", '"3000000h"'),
    ("9223372036854775.808us", '"9223372036854775.808us"'),
    ("9223372036854ms775us808ns", '"9223372036854ms775us808ns"'),
]

# durationTests, src/time/time_test.go.
GO_DURATION_STRING_TESTS: list[tuple[str, int]] = [
    ("0s", 0),
    ("1ns", 1 * NS),
    ("1.1\u00b5s", 1100 * NS),
    ("2.2ms", 2200 * US),
    ("3.3s", 3300 * MS),
    ("4m5s", 4 * M + 5 * S),
    ("4m5.001s", 4 * M + 5001 * MS),
    ("5h6m7.001s", 5 * H + 6 * M + 7001 * MS),
    ("8m0.000000001s", 8 * M + 1 * NS),
    ("2562047h47m16.854775807s", MAX),
    ("-2562047h47m16.854775808s", MIN),
]

# Outside Go's table; expected values printed by Go 1.19.8's time.ParseDuration.
GO_OBSERVED_VALID: list[tuple[str, int]] = [
    # uint64 wrap-around in Go's running total: two components of exactly 1<<63 sum to 0.
    ("9223372036854775808ns9223372036854775808ns", 0),
    ("-9223372036854775808ns9223372036854775808ns", 0),
    ("1.s", 1 * S),
    ("01s", 1 * S),
    ("-.5s", -500 * MS),
    ("+.5s", 500 * MS),
    ("0s", 0),
    ("0.s", 0),
    ("-0.0s", 0),
    ("0.0000000001s", 0),
    ("0.000000000000000000001h", 0),
    ("1.9999999999ns", 1),
    ("2562047.7880152155h", 9223372036854775800),
    ("9223372036854775807.9ns", MAX),
    ("-9223372036854775808.5ns", MIN),
    ("1.5\u00b5s", 1500),
    # Go scales fractions in float64, so trailing zeros can lose the last nanosecond.
    ("0.451170735h", 1624214646000),
    ("0.45117073500000h", 1624214645999),
    ("0.95545898637000h", 3439652350931),
]

# Outside Go's table; full messages printed by Go 1.19.8's time.ParseDuration.
GO_OBSERVED_ERRORS: list[tuple[str | bytes, str]] = [
    ("1", 'time: missing unit in duration "1"'),
    ("00", 'time: missing unit in duration "00"'),
    ("1x", 'time: unknown unit "x" in duration "1x"'),
    ("9223372036854775808ns1ns", 'time: invalid duration "9223372036854775808ns1ns"'),
    ("18446744073709551616ns", 'time: invalid duration "18446744073709551616ns"'),
    ("9223372036854775808h", 'time: invalid duration "9223372036854775808h"'),
    (
        "9223372036854775808ns18446744073709ms",
        'time: invalid duration "9223372036854775808ns18446744073709ms"',
    ),
    ("2562048h", 'time: invalid duration "2562048h"'),
    ("1..s", 'time: missing unit in duration "1..s"'),
    ("1.5.5s", 'time: missing unit in duration "1.5.5s"'),
    (".5.5s", 'time: missing unit in duration ".5.5s"'),
    ("5s3", 'time: missing unit in duration "5s3"'),
    ("1s.", 'time: invalid duration "1s."'),
    ("+-1s", 'time: invalid duration "+-1s"'),
    ("x", 'time: invalid duration "x"'),
    ("1s ", 'time: unknown unit "s " in duration "1s "'),
    (" 1s", 'time: invalid duration " 1s"'),
    ("1 s", 'time: unknown unit " s" in duration "1 s"'),
    ("1s\n", 'time: unknown unit "s\\x0a" in duration "1s\\x0a"'),
    ("1H", 'time: unknown unit "H" in duration "1H"'),
    ("1sm", 'time: unknown unit "sm" in duration "1sm"'),
    ("1e3s", 'time: unknown unit "e" in duration "1e3s"'),
    ("1_000s", 'time: unknown unit "_" in duration "1_000s"'),
    ("1\u00b5", 'time: unknown unit "\\xc2\\xb5" in duration "1\\xc2\\xb5"'),
    ('1"s', 'time: unknown unit "\\"s" in duration "1\\"s"'),
    ("1\\s", 'time: unknown unit "\\\\s" in duration "1\\\\s"'),
    ("\x7f1s", 'time: invalid duration "\x7f1s"'),
    ("-", 'time: invalid duration "-"'),
    ("", 'time: invalid duration ""'),
]


@pytest.mark.parametrize(("text", "want"), GO_PARSE_DURATION_TESTS + GO_OBSERVED_VALID)
def test_parse_duration_matches_go(text: str, want: int) -> None:
    got = parse_duration(text)
    assert type(got) is Duration
    assert got == want


@pytest.mark.parametrize(("text", "expect"), GO_PARSE_DURATION_ERROR_TESTS)
def test_parse_duration_errors_match_go_table(text: str | bytes, expect: str) -> None:
    with pytest.raises(DurationError) as caught:
        parse_duration(text)
    assert expect in str(caught.value)
    assert str(caught.value).startswith("time: ")


@pytest.mark.parametrize(("text", "message"), GO_OBSERVED_ERRORS)
def test_parse_duration_error_messages_are_gos(text: str | bytes, message: str) -> None:
    with pytest.raises(DurationError) as caught:
        parse_duration(text)
    assert str(caught.value) == message


# Go's check right after a fraction is added (``if v > 1<<63``), which the running total's own
# check cannot replace: past 1<<63 a component would wrap the uint64 total back into range.
# 2562047h is 9223369200000000000ns; .7880152155023h adds exactly 1<<63 minus that (Go's
# float64 scaling, reproduced in Python's IEEE doubles), .79h adds 7145224192ns more.
EXACTLY_2_63 = "2562047.7880152155023h"
OVER_2_63 = "2562047.79h"
FRACTION_OVERFLOW_ERRORS = [
    "9223372036854775807ns" + OVER_2_63,  # issue 18.16: Go rejects it (1<<64 would wrap to 7s)
    "9223372036854775808ns" + OVER_2_63,
    "-9223372036854775808ns" + OVER_2_63,
    "9223372036854775808ns2562047.7880152155025h",  # 1<<63 + 1ns: over by one
    OVER_2_63,
    EXACTLY_2_63,  # in range of the check, not of int64
]
FRACTION_AT_THE_LIMIT = [
    ("-" + EXACTLY_2_63, MIN),  # exactly 1<<63 is allowed by the check
    ("9223372036854775808ns" + EXACTLY_2_63, 0),  # and wraps the total like "…808ns…808ns"
]


@pytest.mark.parametrize("text", FRACTION_OVERFLOW_ERRORS)
def test_a_fraction_pushing_a_component_past_1_shl_63_is_rejected(text: str) -> None:
    with pytest.raises(DurationError) as caught:
        parse_duration(text)
    assert str(caught.value) == f'time: invalid duration "{text}"'


@pytest.mark.parametrize(("text", "want"), FRACTION_AT_THE_LIMIT)
def test_a_fraction_reaching_exactly_1_shl_63_is_accepted(text: str, want: int) -> None:
    assert parse_duration(text) == want


@pytest.mark.parametrize("raw", [b"\x85\x85", b"\xffff", b"hello \xffff world", b"1\xffs"])
def test_undecodable_bytes_in_str_quote_like_the_bytes(raw: bytes) -> None:
    # os.environ hands undecodable bytes over as surrogates; Go would see the bytes themselves.
    as_text = raw.decode("utf-8", "surrogateescape")
    with pytest.raises(DurationError) as from_bytes:
        parse_duration(raw)
    with pytest.raises(DurationError) as from_text:
        parse_duration(as_text)
    assert str(from_text.value) == str(from_bytes.value)
    assert str(from_bytes.value).isascii()


def test_bytes_input_parses_like_str() -> None:
    assert parse_duration("12\u00b5s".encode()) == parse_duration("12\u00b5s") == 12 * US


def test_parse_duration_rejects_non_text() -> None:
    with pytest.raises(TypeError):
        parse_duration(5)  # type: ignore[arg-type]


def test_duration_error_is_value_error() -> None:
    assert issubclass(DurationError, ValueError)
    with pytest.raises(ValueError, match=r'^time: missing unit in duration "1\.5"$'):
        parse_duration("1.5")


@pytest.mark.parametrize(("text", "nanoseconds"), GO_DURATION_STRING_TESTS)
def test_string_matches_go(text: str, nanoseconds: int) -> None:
    assert str(Duration(nanoseconds)) == text
    # Go's TestDurationString also checks the negation of each positive case.
    if nanoseconds > 0:
        assert str(Duration(-nanoseconds)) == "-" + text


@pytest.mark.parametrize(
    ("nanoseconds", "text"),
    [
        (500, "500ns"),
        (1500, "1.5\u00b5s"),
        (-1500, "-1.5\u00b5s"),
        (999, "999ns"),
        (1000, "1\u00b5s"),
        (999_999, "999.999\u00b5s"),
        (1_000_000, "1ms"),
        (999_999_999, "999.999999ms"),
        (S, "1s"),
        (1500 * MS, "1.5s"),
        (59 * S, "59s"),
        (M, "1m0s"),
        (H, "1h0m0s"),
        (H + 30 * M, "1h30m0s"),
        (-(M + 500 * MS), "-1m0.5s"),
        (100 * H + 1, "100h0m0.000000001s"),
    ],
)
def test_string_unit_boundaries(nanoseconds: int, text: str) -> None:
    assert str(Duration(nanoseconds)) == text
    assert f"{Duration(nanoseconds)}" == text


def test_micro_sign_is_u00b5() -> None:
    assert str(Duration(1 * US)).encode() == b"1\xc2\xb5s"


def test_repr_evaluates_back() -> None:
    d = Duration(H + 30 * M)
    assert repr(d) == "Duration('1h30m0s')"
    assert eval(repr(d)) == d  # noqa: S307 - the point is that repr is valid source
    assert repr(Duration(MIN)) == "Duration('-2562047h47m16.854775808s')"


def test_construction() -> None:
    assert Duration() == 0
    assert Duration("1h30m") == 90 * M
    assert Duration(b"2s") == 2 * S
    assert Duration(MAX) == MAX
    assert Duration(MIN) == MIN
    with pytest.raises(DurationError):
        Duration("1x")
    with pytest.raises(TypeError):
        Duration(1.5)  # type: ignore[arg-type]


@pytest.mark.parametrize("nanoseconds", [MAX + 1, MIN - 1, 1 << 64])
def test_out_of_int64_range_raises_overflow_error(nanoseconds: int) -> None:
    with pytest.raises(OverflowError):
        Duration(nanoseconds)


def test_is_an_int_and_arithmetic_returns_int() -> None:
    d = Duration(2 * S)
    assert isinstance(d, int)
    assert d == 2 * S and hash(d) == hash(2 * S)
    assert type(d + d) is int and d + d == 4 * S
    assert type(-d) is int
    assert pickle.loads(pickle.dumps(d)) == d
    assert type(pickle.loads(pickle.dumps(d))) is Duration


def test_unit_constants() -> None:
    units = [Duration.NANOSECOND, Duration.MICROSECOND, Duration.MILLISECOND]
    units += [Duration.SECOND, Duration.MINUTE, Duration.HOUR]
    assert units == [NS, US, MS, S, M, H]
    assert all(type(unit) is Duration for unit in units)
    assert str(Duration.HOUR) == "1h0m0s"


# Go's nsDurationTests .. hourDurationTests (time_test.go); floats compared exactly, as Go does.
@pytest.mark.parametrize(
    ("nanoseconds", "attribute", "want"),
    [
        (-1000, "microseconds", -1),
        (1000, "microseconds", 1),
        (-1_000_000, "milliseconds", -1),
        (1_000_000, "milliseconds", 1),
        (300_000_000, "seconds", 0.3),
        (-60_000_000_000, "minutes", -1),
        (-1, "minutes", -1 / 60e9),
        (1, "minutes", 1 / 60e9),
        (60_000_000_000, "minutes", 1),
        (3000, "minutes", 5e-8),
        (-3_600_000_000_000, "hours", -1),
        (-1, "hours", -1 / 3600e9),
        (1, "hours", 1 / 3600e9),
        (3_600_000_000_000, "hours", 1),
        (36, "hours", 1e-11),
        # Go's integer division truncates toward zero, not down.
        (-1500, "microseconds", -1),
        (-1_999_999, "milliseconds", -1),
        (MAX, "seconds", 9223372036.854776),
    ],
)
def test_unit_views_match_go(nanoseconds: int, attribute: str, want: float) -> None:
    assert getattr(Duration(nanoseconds), attribute) == want


@pytest.mark.parametrize(
    ("nanoseconds", "want"),
    [
        (1500, datetime.timedelta(microseconds=1)),
        (-1500, datetime.timedelta(microseconds=-1)),
        (999, datetime.timedelta(0)),
        (90 * M, datetime.timedelta(hours=1, minutes=30)),
        (MAX, datetime.timedelta(microseconds=MAX // 1000)),
        (MIN, datetime.timedelta(microseconds=-(-MIN // 1000))),
    ],
)
def test_to_timedelta_truncates_toward_zero(nanoseconds: int, want: datetime.timedelta) -> None:
    assert Duration(nanoseconds).to_timedelta() == want


int64s = st.integers(min_value=MIN, max_value=MAX)


@given(int64s)
def test_string_round_trips_for_every_int64(n: int) -> None:
    assert parse_duration(str(Duration(n))) == n


@given(st.integers(min_value=0, max_value=MAX))
def test_negation_only_adds_a_sign(n: int) -> None:
    if n:
        assert str(Duration(-n)) == "-" + str(Duration(n))


_PIECES = ["0", "1", "9", "12", "9223372036854775808", ".", "+", "-", "ns", "us", "\u00b5s"]
_PIECES += ["ms", "s", "m", "h", "H", " ", "\udcff", "\ufffd", '"', "\\", "\n"]


@given(st.lists(st.sampled_from(_PIECES), max_size=8).map("".join))
def test_any_text_parses_in_range_or_raises_duration_error(text: str) -> None:
    try:
        d = parse_duration(text)
    except DurationError as exc:
        message = str(exc)
        assert message.startswith("time: ") and message.isascii()
        assert message.endswith('"')
    else:
        assert MIN <= d <= MAX
        assert parse_duration(str(d)) == d
