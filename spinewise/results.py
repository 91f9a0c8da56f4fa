"""The analyze summary made to agree with itself before it is printed (JSON or text).

The analyzer's trackers each report what they saw; this is where their reports are put
side by side: the reader's dropped lines join ``rejected``, sedentary bouts give way to the
exercise sets and holds that happened inside them (exercising is not sedentary), and the
``read`` section says what the reader handled. docs/architecture.md lists the rules; the
JSON contract test (tests/test_results.py) checks them.
"""
from __future__ import annotations


def exercise_spans(summary: dict) -> list[tuple[float, float]]:
    spans = [(float(x["start_s"]), float(x["end_s"]))
             for x in [*summary.get("sets", []), *summary.get("holds", [])]]
    return sorted(spans)


def _subtract(a: float, b: float, spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """[a, b] minus the spans, as the pieces left (in order)."""
    pieces, start = [], a
    for s, e in spans:
        if e <= start or s >= b:
            continue
        if s > start:
            pieces.append((start, s))
        start = max(start, e)
    if start < b:
        pieces.append((start, b))
    return pieces


def split_sedentary(activity: dict, spans: list[tuple[float, float]]) -> None:
    """Sedentary bouts minus the exercise sets and holds inside them (in place).

    A bout is the pieces left over; pieces keep the bout's other fields. ``sedentary_s``
    already counts exercise epochs as exercise, so it stays as it is. The DayTracker already
    ends its bouts at every set and hold it was told of (live events agree); this catches the
    ones it could not mark: recognised before the first mounting calibration, on epochs it
    classed as walking, or later than its exercise lag.
    """
    bouts = activity.get("sedentary_bouts")
    if not bouts or not spans:
        return
    out = []
    for bout in bouts:
        pieces = _subtract(float(bout["start_s"]), float(bout["end_s"]), spans)
        for s, e in pieces:
            piece = dict(bout)
            piece["start_s"], piece["end_s"] = round(s, 3), round(e, 3)
            if "duration_s" in piece:
                piece["duration_s"] = round(e - s, 3)
            out.append(piece)
    activity["sedentary_bouts"] = out


def merge_rejected(summary: dict, read: dict) -> None:
    """``rejected`` counts every sample not analysed: the reader's dropped lines by reason
    (as in ``read.counts``, gaps excepted: their samples are kept) plus the analyzer's."""
    rejected = {k: int(v) for k, v in (summary.get("rejected") or {}).items()}
    for reason, n in (read.get("counts") or {}).items():
        if reason == "gap":
            continue
        rejected[reason] = rejected.get(reason, 0) + int(n)
    summary["rejected"] = rejected


def assemble(summary: dict, report) -> dict:
    """The analyzer's ``summary()`` with the reader's ``ReadReport``, consistent."""
    read = report.to_dict()
    read["gaps"] = [{"start_s": g["start_s"], "end_s": g["end_s"], "line": g["line"]}
                    for g in read.get("gaps", [])]
    summary["read"] = read
    merge_rejected(summary, read)
    split_sedentary(summary["activity"], exercise_spans(summary))
    if read.get("units") and read["units"].get("start_epoch_s") is not None:
        # the first sample's clock time (epoch times, or --start)
        summary["start_epoch_s"] = read["units"]["start_epoch_s"]
    return summary
