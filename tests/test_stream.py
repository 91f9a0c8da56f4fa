"""The stream model: shapes, slicing, concatenation, gyro-less chunks."""
import numpy as np
import pytest

from spinewise.stream import ImuChunk


def make(n=10, gyro=True):
    t = np.arange(n) / 50.0
    acc = np.tile([0.0, 0.0, 1.0], (n, 1))
    return ImuChunk(t, acc, acc * 0 if gyro else None, "d1", 50.0, seq=np.arange(n))


def test_split_and_concat_round_trip():
    c = make(103)
    parts = list(c.split(25))
    assert [len(p) for p in parts] == [25, 25, 25, 25, 3]
    back = ImuChunk.concat(parts)
    np.testing.assert_array_equal(back.t_s, c.t_s)
    np.testing.assert_array_equal(back.seq, c.seq)
    assert back.device_id == "d1" and back.has_gyro


def test_no_gyro_chunk():
    c = make(5, gyro=False)
    assert not c.has_gyro and len(c.slice(1, 3)) == 2
    assert ImuChunk.concat([c, c]).gyro_dps is None


def test_shape_is_checked():
    with pytest.raises(ValueError):
        ImuChunk(np.zeros(3), np.zeros((4, 3)))
