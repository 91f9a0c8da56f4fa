"""Device state to bytes and back, without ever running code found in the bytes.

Snapshots (spinewise.pipeline.snapshot on disk, spinewise.engine.snapshots in the engine's
key-value bucket) hold Analyzer state: dicts, lists, numbers, strings and numpy arrays, which
JSON cannot carry without loss, so they are pickles. A plain ``pickle.load`` would import and
call whatever a tampered snapshot names (``os.system``...); this reader resolves only the
few globals numpy needs to rebuild arrays, dtypes and scalars, and refuses anything else
("Restricting Globals" in the pickle module's documentation).
"""
from __future__ import annotations

import io
import pickle

# (module, name) a snapshot may refer to: numpy's array, dtype and scalar rebuilders (under
# numpy 2's numpy._core and numpy 1's numpy.core) and harmless containers
_ALLOWED = frozenset({
    *((core, name) for core in ("numpy.core.multiarray", "numpy._core.multiarray")
      for name in ("_reconstruct", "scalar")),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("collections", "deque"), ("collections", "OrderedDict"),
    ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "complex"),
})


class _StateUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"a state snapshot may not refer to {module}.{name}")


def dumps(state) -> bytes:
    return pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)


def loads(data: bytes):
    """The state in ``data``; pickle.UnpicklingError when it names anything but state types."""
    return _StateUnpickler(io.BytesIO(data)).load()


def load(fh):
    return _StateUnpickler(fh).load()
