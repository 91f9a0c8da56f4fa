import json

import pytest
from hypothesis import example, given, settings, strategies as st

from spinewise.coaching.commands import CommandError, parse


def cmd(**kw) -> bytes:
    return json.dumps({"v": 1, **kw}).encode()


def test_valid_commands_parse():
    c = parse(cmd(cmd="pain", score=4, leg=True, id="abc", t_s=1.7e9))
    assert (c.cmd, c.args, c.id, c.t_s) == ("pain", {"score": 4, "leg": True}, "abc", 1.7e9)
    assert parse(cmd(cmd="snooze")).args == {}
    assert parse(cmd(cmd="snooze", minutes=45)).args == {"minutes": 45.0}
    assert parse(cmd(cmd="set_start", exercise="plank", variant="knee")).args["variant"] == "knee"
    assert parse(cmd(cmd="settings", values={"snooze_min": 20})).args["values"] == {"snooze_min": 20}


@pytest.mark.parametrize("payload, field", [
    (b"not json", "payload"),
    (b"[1, 2]", "payload"),
    (b"\xff\xfe", "payload"),
    (json.dumps({"cmd": "snooze"}).encode(), "v"),
    (cmd(cmd="dance"), "cmd"),
    (cmd(cmd="pain"), "score"),
    (cmd(cmd="pain", score=11), "score"),
    (cmd(cmd="pain", score=2.5), "score"),
    (cmd(cmd="pain", score=True), "score"),
    (cmd(cmd="pain", score=3, leg="yes"), "leg"),
    (cmd(cmd="snooze", minutes=-5), "minutes"),
    (cmd(cmd="snooze", minuets=5), "minuets"),
    (cmd(cmd="set_start", exercise="jumping_jack"), "exercise"),
    (cmd(cmd="acute"), "on"),
    (cmd(cmd="status", id=[1]), "id"),
    (cmd(cmd="status", t_s="now"), "t_s"),
    (b'{"v": 2, "cmd": "status"}', "v"),
    (b"{" * 5000, "payload"),
])
def test_bad_commands_name_the_field(payload, field):
    with pytest.raises(CommandError) as exc:
        parse(payload)
    assert exc.value.field == field
    assert field in str(exc.value)


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(),
                           lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
                           max_leaves=10)


@settings(max_examples=200, deadline=None)
@example(b'{"cmd": [], "v": 1}')          # found by this test: an unhashable command name
@example(b'{"cmd": {"a": 1}, "v": 1}')
@given(st.one_of(st.binary(max_size=200),
                 st.dictionaries(st.sampled_from(["v", "cmd", "id", "t_s", "score", "minutes", "on",
                                                  "exercise", "values", "leg"]), json_values)
                 .map(lambda d: json.dumps(d).encode())))
def test_garbage_is_a_command_error_never_a_crash(payload):
    try:
        parse(payload)
    except CommandError as exc:
        assert exc.field


@pytest.mark.parametrize("payload, want", [
    (cmd(cmd="dance", id="a1"), "a1"),                      # refused command: id still known
    (cmd(cmd="pain", score=11, id=42), 42),
    (json.dumps({"v": 7, "cmd": "status", "id": "x"}).encode(), "x"),
    (cmd(cmd="status", id=[1]), None),                      # an invalid id is not echoed
    (cmd(cmd="status", id="y" * 65), None),
    (cmd(cmd="status", id=True), None),
    (b'{"id": "z", "v": 1', None),                          # not JSON: nothing to match
    (b'["id", "z"]', None),
])
def test_errors_carry_the_id_when_the_payload_had_one(payload, want):
    from spinewise.coaching.commands import reply_id
    with pytest.raises(CommandError) as exc:
        parse(payload)
    assert exc.value.id == want
    assert reply_id(payload) == want


def test_reply_id_of_a_valid_command():
    from spinewise.coaching.commands import reply_id
    assert reply_id(cmd(cmd="status", id="ok1")) == "ok1"
    assert reply_id(cmd(cmd="status")) is None
