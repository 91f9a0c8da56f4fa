"""The local SQLite store: same keys as InfluxDB (overwrite), queryable rows, open_storage."""
from __future__ import annotations

import pytest

from spinewise.config import ConfigError, InfluxConfig
from spinewise.events import Event
from spinewise.storage import make_point, open_storage, points_from_event
from spinewise.storage.local import LocalStore


def test_rows_come_back_with_tags_and_fields_and_same_key_overwrites(tmp_path):
    store = open_storage(InfluxConfig(backend="none", local_path=str(tmp_path / "s.sqlite")))
    assert isinstance(store, LocalStore)
    ev = Event("set_finished", 100.0, {"exercise": "bridge", "start_s": 40.0, "end_s": 100.0,
                                       "reps": 12, "reps_left": 0, "reps_right": 0})
    store.write(points_from_event(ev, "ann", "h10"))
    store.write(points_from_event(ev, "ann", "h10"))          # re-sent: overwritten, not added
    rows = store.rows("set", user="ann")
    assert len(rows) == 1
    assert rows[0]["exercise"] == "bridge" and rows[0]["reps"] == 12 and rows[0]["duration_s"] == 60.0
    total = store.query("SELECT sum(json_extract(fields, '$.reps')) AS reps FROM points "
                        "WHERE measurement = 'set'")
    assert total == [{"reps": 12}]
    assert store.count() == 1 and store.stats()["points_written"] == 2
    store.close()
    reopened = LocalStore(str(tmp_path / "s.sqlite"))
    assert reopened.count("set") == 1


def test_time_window_and_unknown_tags(tmp_path):
    store = LocalStore()
    store.write([make_point("m", {"user": "u"}, {"v": i}, i) for i in range(10)])
    assert [r["v"] for r in store.rows("m", start_ns=3, end_ns=6)] == [3, 4, 5]
    from spinewise.storage import Point
    store.write([make_point("m", {"room": "x"}, {"v": 1}, 0),          # a tag not in the schema
                 Point("m", {"user": "u"}, {"v": object()}, 99),        # an unserialisable field
                 make_point("m", {"user": "u"}, {"v": 99}, 99)])
    assert [r["v"] for r in store.rows("m", start_ns=99)] == [99]
    assert store.stats()["points_rejected"] == 2


def test_unknown_backend_and_bad_numbers_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="influx.backend"):
        open_storage(InfluxConfig(backend="mongo"))
    with pytest.raises(ConfigError, match="influx.batch_size"):
        open_storage(InfluxConfig(backend="v1", batch_size=0, spool_dir=str(tmp_path)))


def test_two_storages_on_one_spool_dir_is_a_config_error(tmp_path):
    cfg = InfluxConfig(backend="v1", url="http://127.0.0.1:9", spool_dir=str(tmp_path / "sp"))
    first = open_storage(cfg, background=False)
    with pytest.raises(ConfigError, match="influx.spool_dir"):
        open_storage(cfg, background=False)
    first.close()
