"""Parsing of raw request values as CloudStack parses them."""

from __future__ import annotations

import pytest

from management.api.native.params import Param, map_as_dict, parse_scalar, parse_value, split_maps
from management.errors import InvalidParameter, MalformedParameter


def p(kind="string", **kw) -> Param:
    param = Param(kind, **kw)
    param.wire = "x"
    return param


def test_booleans_are_true_or_false():
    assert parse_value(None, "c", p("boolean"), "TRUE") is True
    assert parse_value(None, "c", p("boolean"), "yes") is False


def test_integers_and_ranges():
    assert parse_value(None, "c", p("integer"), " 42 ") == 42
    assert parse_value(None, "c", p("integer"), "") is None
    with pytest.raises(InvalidParameter, match="Invalid parameter x value=4.2"):
        parse_value(None, "c", p("integer"), "4.2")
    with pytest.raises(InvalidParameter):
        parse_value(None, "c", p("integer"), str(2**31))
    with pytest.raises(InvalidParameter, match="at least"):
        parse_value(None, "c", p("integer", min=1), "0")


def test_strings_length_choices_and_control_characters():
    with pytest.raises(InvalidParameter, match="maximum length"):
        parse_value(None, "c", p(length=3), "abcd")
    assert parse_value(None, "c", p(choices=("Basic", "Advanced")), "basic") == "Basic"
    with pytest.raises(InvalidParameter, match="allowed values"):
        parse_value(None, "c", p(choices=("Basic",)), "Fancy")
    with pytest.raises(InvalidParameter, match="control characters"):
        parse_value(None, "c", p(), "a\x07")
    assert parse_value(None, "c", p(), "tab\tand\nnewline") == "tab\tand\nnewline"


def test_lists_skip_empty_tokens():
    assert parse_value(None, "c", p("list"), "a,,b, ") == ["a", "b"]
    assert parse_value(None, "c", p("list", item_type="integer"), "1,2") == [1, 2]


def test_dates():
    assert parse_scalar("c", p("date"), "x", "2024-02-03").day == 3
    assert parse_scalar("c", p("date"), "x", "2024-02-03 10:11:12").hour == 10
    assert parse_scalar("c", p("tzdate"), "x", "2024-02-03T10:11:12+0200").utcoffset().total_seconds() == 7200
    with pytest.raises(InvalidParameter):
        parse_scalar("c", p("date"), "x", "03/02/2024")


def test_map_parameters():
    plain, maps = split_maps({"Command": "x", "details[0].cpuNumber": "2", "details[0].memory": "512",
                              "tags[1].key": "k", "tags[1].value": "v", "tags[0].key": "a", "tags[0].value": "b"})
    assert plain == {"command": "x"}
    assert map_as_dict(maps["details"]) == {"cpuNumber": "2", "memory": "512"}
    assert map_as_dict(maps["tags"]) == {"a": "b", "k": "v"}
    for bad in ("details[x].a", "details[0]", "details[0][1].a", "details]0[.a"):
        with pytest.raises(MalformedParameter):
            split_maps({bad: "1"})
