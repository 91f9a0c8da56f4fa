"""pyarrow's CSV reader for plain blocks (recording/parse.py _arrow_rows): the same doubles as
loadtxt, and every block it cannot take bit for bit goes back to loadtxt, so a whole read
gives the same rows and the same report either way."""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from spinewise.recording import ReadReport, read_chunks
from spinewise.recording import parse

pytest.importorskip("pyarrow")

ROOT = Path(__file__).resolve().parents[1]


def _text(rows: list[list[str]]) -> bytes:
    return "\n".join(",".join(r) for r in rows).encode()


def _formats(rng, n: int) -> list[list[str]]:
    """Numbers written every way a recorder might: repr, fixed, exponent, integers, signs,
    leading and trailing dots, extreme exponents."""
    out = []
    for i in range(n):
        row = [repr(0.02 * i)]
        for _ in range(6):
            x = float(rng.normal(0, 10.0 ** rng.integers(-6, 6)))
            f = rng.integers(0, 9)
            row.append([repr(x), f"{x:.6f}", f"{x:e}", f"{x:.17g}", str(int(x)), f"{x:.3E}",
                        "-0", ".5" if x > 0 else "-.5", f"{abs(x):.0f}."][f])
        out.append(row)
    return out


@pytest.mark.parametrize("seed", range(5))
def test_same_doubles_as_loadtxt(seed):
    rows = _formats(np.random.default_rng(seed), 3000)
    data = _text(rows)
    for ncols in (4, 7):
        got = parse._arrow_rows(data, len(rows), ncols)
        ref, _ = parse._loadtxt(data.decode().split("\n"), ncols)
        assert got is not None
        assert got.tobytes() == ref.tobytes()          # bit for bit, -0.0 included


@pytest.mark.parametrize("bad", [
    "1.0,2,3,4,,6,7",            # empty field
    "1.0,2,3,4,5,6",             # one field short
    "1.0,2,3,4,5,6,7,8",         # one more than the others
    "1.0,2,3,nan,5,6,7",         # not plain
    "1.0, 2,3,4,5,6,7",          # a space
    '1.0,"2",3,4,5,6,7',         # quotes
    "1.0,2,3,4e,5,6,7",          # malformed numbers
    "1.0,2,3,--4,5,6,7",
    "1.0,2,3,.,5,6,7",
    "1.0,2,3,4.5.6,5,6,7",
    "",                          # a blank line
    "1.0,2,3,4,5,6,7\r",         # CRLF
])
def test_anything_unusual_goes_back_to_loadtxt(bad):
    rows = _text(_formats(np.random.default_rng(0), 50)).split(b"\n")
    rows[20] = bad.encode()
    assert parse._arrow_rows(b"\n".join(rows), len(rows), 7) is None


def _read(path, monkeypatch, arrow: bool):
    monkeypatch.setattr(parse, "ARROW_FROM_LINE", 0 if arrow else 10 ** 12)
    report = ReadReport()
    chunks = list(read_chunks(path, 4096, report=report))
    cols = [np.concatenate([c.t_s for c in chunks]), np.concatenate([c.acc_g for c in chunks])]
    if chunks[0].gyro_dps is not None:
        cols.append(np.concatenate([c.gyro_dps for c in chunks]))
    return [c.tobytes() for c in cols], repr(report.summary()), dict(report.counts)


@pytest.mark.parametrize("name", ["sim/ex_prone_52hz_random.csv",
                                  "sim/office_snippet_52hz_accel_only.csv",
                                  "real/mobgap_HA001_test5_trial1.csv"])
def test_whole_reads_agree(name, monkeypatch):
    path = ROOT / "fixtures" / name
    assert _read(path, monkeypatch, True) == _read(path, monkeypatch, False)


def test_whole_reads_agree_with_bad_lines_and_gzip(tmp_path, monkeypatch):
    src = (ROOT / "fixtures" / "sim" / "ex_prone_52hz_random.csv").read_bytes().split(b"\n")
    for k, bad in [(5000, b"1,2,3"), (9000, b"oops"), (12000, b""), (15000, b"nan,1,2,3,4,5,6"),
                   (20000, src[19990])]:           # a duplicate time
        src[k] = bad
    path = tmp_path / "bad.csv.gz"
    path.write_bytes(gzip.compress(b"\n".join(src)))
    got, ref = _read(path, monkeypatch, True), _read(path, monkeypatch, False)
    assert got == ref
    assert ref[2]                                   # the bad lines were counted
