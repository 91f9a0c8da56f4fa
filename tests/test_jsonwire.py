"""The MQTT JSON encoder: numpy numbers become plain numbers, NaN becomes null."""
import json

import numpy as np

from spinewise.jsonwire import dumps


def test_numpy_and_nan_on_the_wire():
    doc = {"a": np.float32(1.5), "b": np.int64(3), "c": float("nan"), "d": np.array([1.0, np.inf]),
           "e": (np.bool_(True),), 5: "five"}
    assert json.loads(dumps(doc)) == {"a": 1.5, "b": 3, "c": None, "d": [1.0, None], "e": [True],
                                      "5": "five"}
    assert b" " not in dumps(doc)
