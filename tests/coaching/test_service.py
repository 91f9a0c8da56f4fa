import json

from spinewise.config import CoachingConfig, Config, DeviceConfig
from spinewise.events import Event
from spinewise.coaching import CoachService, CoachStore
from spinewise.topics import Topics
from tests.coaching.helpers import brk, epoch, minutes

TZ = "Europe/Berlin"
NINE = epoch("2026-03-02T09:00:00")


def config(**coaching) -> Config:
    return Config(coaching=CoachingConfig(timezone=TZ, **coaching),
                  devices=[DeviceConfig(id="clip1", user="ann")])


def by_suffix(outs, suffix):
    return [o for o in outs if o.suffix == suffix]


def cmd(**kw) -> bytes:
    return json.dumps({"v": 1, **kw}).encode()


def test_nudge_state_and_storage_events():
    svc = CoachService(config(), CoachStore())
    outs = svc.on_events("ann", minutes(NINE, 50))
    nudges = by_suffix(outs, "nudge")
    assert len(nudges) == 1 and nudges[0].topic == Topics("spinewise").user("ann", "nudge") and not nudges[0].retain
    assert nudges[0].payload["type"] == "nudge" and nudges[0].event.kind == "nudge"
    state = by_suffix(outs, "coach")[-1]
    assert state.retain and state.payload["sedentary_min_today"] == 50
    assert state.payload["last_nudge_iso"] == "2026-03-02T09:50:00+01:00"
    json.loads(state.payload_bytes())
    outs = svc.on_events("ann", [Event("set_finished", NINE + 3600, {
        "exercise": "bird_dog", "start_s": NINE + 3500, "end_s": NINE + 3600, "reps": 20,
        "reps_left": 10, "reps_right": 10, "reps_detail": []})])
    assert by_suffix(outs, "coach")[-1].payload["reps_today"] == 20
    outs = svc.on_events("ann", [brk(NINE + 52 * 60, NINE + 55 * 60)])
    assert [o.event.data["outcome"] for o in outs if o.event] == ["answered"]
    assert svc.status("ann", NINE + 3700)["nudges_answered_today"] == 1


def test_snooze_command_delays_the_next_nudge():
    svc = CoachService(config(), CoachStore())
    svc.on_events("ann", minutes(NINE, 55))
    reply = svc.on_command("ann", cmd(cmd="snooze", minutes=60, id=7))[0]
    assert reply.topic == Topics("spinewise").user("ann", "cmd/reply") and reply.payload["ok"] and reply.payload["id"] == 7
    assert reply.payload["snoozed_until_s"] == NINE + 115 * 60     # from the last event time
    outs = svc.on_events("ann", minutes(NINE + 55 * 60, 65))
    assert [round((o.payload["t_s"] - NINE) / 60) for o in by_suffix(outs, "nudge")] == [115]


def test_done_command_answers_the_nudge_and_stores_the_outcome():
    store = CoachStore()
    svc = CoachService(config(), store)
    nudge_id = by_suffix(svc.on_events("ann", minutes(NINE, 51)), "nudge")[0].payload["id"]
    outs = svc.on_command("ann", cmd(cmd="done", id="d1"))
    reply = outs[0]
    assert reply.payload["ok"] and reply.payload["id"] == "d1" and reply.payload["answered"] == nudge_id
    [outcome] = [o.event for o in outs if o.event is not None]
    assert outcome.kind == "nudge_outcome" and outcome.data["via"] == "reply"
    assert outcome.data["nudge_t_s"] == NINE + 50 * 60            # epoch time, like the nudge's
    assert by_suffix(outs, "coach")[-1].payload["nudges_answered_today"] == 1
    assert store.nudges("ann")[0]["outcome"] == "answered"
    again = svc.on_command("ann", cmd(cmd="done", id="d1"))[0]     # redelivered: nothing more
    assert again.payload["ok"] and again.payload["answered"] is None
    [bad] = svc.on_command("ann", cmd(cmd="done", nudge=["x"]))
    assert bad.payload["error"]["field"] == "nudge"


def test_bad_command_gets_an_error_reply_naming_the_field():
    svc = CoachService(config(), CoachStore())
    [reply] = svc.on_command("ann", cmd(cmd="pain", score=12), t_s=NINE)
    assert reply.payload["ok"] is False and reply.payload["error"]["field"] == "score"
    [reply] = svc.on_command("ann", b"\x00garbage")
    assert reply.payload["error"]["field"] == "payload"
    [reply] = svc.on_command("ann", cmd(cmd="status"))          # no time known at all
    assert reply.payload["error"]["field"] == "t_s"
    [reply] = svc.on_command("ann", cmd(cmd="settings", values={"quiet_start": "25:00"}), t_s=NINE)
    assert reply.payload["error"]["field"] == "quiet_start"
    [reply] = svc.on_command("ann", cmd(cmd="settings", values={"timezone": "Mars/Base"}), t_s=NINE)
    assert reply.payload["error"]["field"] == "timezone"
    assert svc.rejected_commands == 2


def test_pain_report_red_flag_stops_exercise_until_cleared():
    svc = CoachService(config(), CoachStore())
    outs = svc.on_command("ann", cmd(cmd="pain", score=6, leg=True), t_s=NINE)
    assert outs[0].payload["ok"] and "clinician" in outs[0].payload["advice"]
    assert any(o.event and o.event.kind == "pain" and o.event.data["leg"] for o in outs)
    plans = [o.payload for o in by_suffix(outs, "nudge") if o.payload["type"] == "plan"]
    assert plans[0]["status"] == "stop"
    assert by_suffix(outs, "plan")[0].retain
    nudge = by_suffix(svc.on_events("ann", minutes(NINE, 50)), "nudge")[0]
    assert nudge.payload["suggestion"]["kind"] == "change_position"
    outs = svc.on_command("ann", cmd(cmd="clinician_cleared"), t_s=NINE + 3600)
    assert [o.payload for o in by_suffix(outs, "plan")][0]["status"] == "train"


def test_settings_flags_and_announce():
    svc = CoachService(config(), CoachStore())
    [reply] = svc.on_command("ann", cmd(cmd="settings", values={"sedentary_trigger_min": 30}), t_s=NINE)
    assert reply.payload["settings"] == {"sedentary_trigger_min": 30.0}
    assert len(by_suffix(svc.on_events("ann", minutes(NINE, 30)), "nudge")) == 1
    outs = svc.on_command("ann", cmd(cmd="set_start", exercise="plank", variant="knee"), t_s=NINE)
    assert [o.action for o in outs] == [None, "announce"]
    svc.on_events("ann", [Event("hold_finished", NINE + 2000, {
        "exercise": "plank", "start_s": NINE + 1960, "end_s": NINE + 2000, "duration_s": 40.0, "flags": []})])
    assert svc.store.entries("ann")[0].variant == "knee"
    outs = svc.on_command("ann", cmd(cmd="calibrate"), t_s=NINE)
    assert outs[-1].action == "calibrate"
    outs = svc.on_command("ann", cmd(cmd="acute", on=True), t_s=NINE)
    assert by_suffix(outs, "plan")[0].payload["status"] == "acute"


def test_state_survives_a_restart(tmp_path):
    db = tmp_path / "coach.sqlite"
    svc = CoachService(config(), CoachStore(db))
    svc.on_events("ann", minutes(NINE, 40))
    svc.on_command("ann", cmd(cmd="settings", values={"snooze_min": 15}))
    svc.store.close()
    svc2 = CoachService(config(), CoachStore(db))      # restart: continues the window
    outs = svc2.on_events("ann", minutes(NINE + 40 * 60, 10))
    assert len(by_suffix(outs, "nudge")) == 1
    assert svc2.settings_for("ann").snooze_min == 15
    assert svc2.status("ann", NINE + 3000)["sedentary_min_today"] == 50


def test_replay_maps_recording_time_with_t0():
    svc = CoachService(config(), CoachStore(), t0_epoch_s=NINE)
    outs = svc.on_events("ann", minutes(0.0, 50))
    [n] = by_suffix(outs, "nudge")
    assert n.payload["t_s"] == NINE + 3000 and n.event.t_s == NINE + 3000
    outs = svc.on_events("ann", [brk(3060.0, 3200.0)])
    [outcome] = [o.event for o in outs if o.event]
    assert outcome.data["nudge_t_s"] == NINE + 3000 and outcome.t_s == NINE + 3200


def test_home_assistant_discovery():
    svc = CoachService(config(), CoachStore())
    outs = svc.discovery("ann")
    topics = {o.topic: o.payload for o in outs}
    assert all(o.retain for o in outs)
    sed = topics["homeassistant/sensor/spinewise_ann/sedentary_today/config"]
    assert sed["state_topic"] == Topics("spinewise").user("ann", "coach") and sed["unit_of_measurement"] == "min"
    assert sed["value_template"] == "{{ value_json.sedentary_min_today }}"
    assert sed["unique_id"] == "spinewise_ann_sedentary_today"
    assert sed["device"]["identifiers"] == ["spinewise_ann"] and "clip1" in sed["device"]["model"]
    assert topics["homeassistant/sensor/spinewise_ann/last_nudge/config"]["device_class"] == "timestamp"
    assert "homeassistant/sensor/spinewise_ann/reps_today/config" in topics
    button = topics["homeassistant/button/spinewise_ann/snooze/config"]
    assert button["command_topic"] == Topics("spinewise").user("ann", "cmd")
    assert json.loads(button["payload_press"]) == {"v": 1, "cmd": "snooze"}
    # what the button sends is a valid command
    assert svc.on_command("ann", button["payload_press"].encode(), t_s=NINE)[0].payload["ok"]
    # keys every entity state template reads exist in the state payload
    state = by_suffix(svc.on_events("ann", minutes(NINE, 2)), "coach")[-1].payload
    for p in topics.values():
        if "value_template" in p:
            assert p["value_template"].split("value_json.")[1].rstrip(" }") in state
    assert CoachService(config(ha_discovery_prefix=""), CoachStore()).discovery("ann") == []


def test_day_rollover_sends_a_summary():
    svc = CoachService(config(), CoachStore())
    svc.on_events("ann", minutes(epoch("2026-03-02T23:58:00"), 2, "walking"))
    outs = svc.on_events("ann", minutes(epoch("2026-03-03T00:00:00"), 1))
    [summary] = [o for o in by_suffix(outs, "nudge") if o.payload["type"] == "summary"]
    assert summary.payload["date"] == "2026-03-02" and summary.payload["walking_min"] == 2
    assert summary.event.kind == "summary"
    assert [o.payload["status"] for o in by_suffix(outs, "plan")] == ["train"]


from hypothesis import given, settings, strategies as st  # noqa: E402

junk = st.one_of(st.none(), st.booleans(), st.integers(-10**13, 10**13), st.floats(allow_nan=True),
                 st.text(max_size=5), st.lists(st.integers(), max_size=2))
kinds = st.sampled_from(["minute", "break", "set_finished", "hold_finished", "set_started",
                         "hold_started", "activity", "nudge", "posture"])
keys = st.sampled_from(["start_s", "end_s", "sedentary_s", "lying_s", "exercise_s", "reps",
                        "duration_s", "exercise", "flags", "reps_detail", "steps"])


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(kinds, st.floats(0, 4e9), st.dictionaries(keys, junk, max_size=6)), max_size=15))
def test_garbage_events_never_raise(raw):
    svc = CoachService(config(), CoachStore())
    svc.on_events("ann", [Event(k, t, d) for k, t, d in raw])
    svc.on_events("ann", minutes(NINE, 3))
    svc.status("ann", NINE + 600)
