"""The one thing pyproject.toml cannot declare yet (its ext-modules table is experimental in
setuptools): two hot loops of the exercise tracker in C (issue 13), the idle loop
(spinewise/signal/exercise/_idle_loop.c) and the frame builder's fusion offset
(_fusion_loop.c). Optional, so an install without a C compiler still works: idle.py and
frames.py then run the same loops in Python, with the same results. -ffp-contract=off: no
fused multiply-adds, so the C arithmetic is CPython's, bit for bit."""
from setuptools import Extension, setup


def _loop(name: str) -> Extension:
    return Extension(f"spinewise.signal.exercise.{name}", [f"spinewise/signal/exercise/{name}.c"],
                     extra_compile_args=["-O2", "-ffp-contract=off"], optional=True)


setup(ext_modules=[_loop("_idle_loop"), _loop("_fusion_loop")])
