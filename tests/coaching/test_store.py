import threading

from spinewise.coaching.log import LogEntry, PainReport
from spinewise.coaching.store import CoachStore


def test_store_round_trips_and_ignores_replayed_duplicates(tmp_path):
    db = tmp_path / "deep" / "coach.sqlite"
    s = CoachStore(db)
    e = LogEntry(100.0, "plank", "hold", duration_s=30.0, variant="knee", flags=("sag",), start_s=70.0)
    assert s.add_entry("ann", e) and not s.add_entry("ann", e)
    s.add_pain("ann", PainReport(50.0, 4, leg=True, note="after lifting"))
    s.add_nudge("ann", "ann-1", 10.0, "walk_break", {"x": 1})
    s.add_nudge("ann", "ann-2", 20.0, "walk_break", {"x": 2})
    s.set_nudge_outcome("ann", "ann-1", "answered", 60.0)
    s.update_settings("ann", {"snooze_min": 10.0})
    s.set_flags("ann", acute=True)
    s.close()
    s = CoachStore(db)                                # reopened: everything is still there
    assert s.entries("ann") == [e]
    assert s.entries("ann", since_t_s=101.0) == []
    assert s.pain("ann")[0].leg and s.pain("ann")[0].red_flag and s.pain("ann", until_t_s=10) == []
    assert s.nudge_counts("ann") == {"sent": 2, "answered": 1, "ignored": 0}
    assert s.nudges("ann", since_t_s=15.0)[0]["id"] == "ann-2"
    assert s.settings("ann") == {"snooze_min": 10.0}
    assert s.flags("ann") == {"acute": True, "extension_eases": False, "red_flag": False}
    assert s.users() == ["ann"] and s.flags("bob")["acute"] is False


def test_store_is_safe_across_threads():
    s = CoachStore()

    def work(k):
        for i in range(50):
            s.add_entry(f"u{k}", LogEntry(float(i), "bird_dog", "set", reps=10))
            s.put(f"u{k}", "n", i)
    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(len(s.entries(f"u{k}")) == 50 and s.get(f"u{k}", "n") == 49 for k in range(4))
