"""The one thing pyproject.toml cannot declare yet (its ext-modules table is experimental in
setuptools): the exercise tracker's idle loop in C (spinewise/signal/exercise/_idle_loop.c,
issue 13). Optional, so an install without a C compiler still works: idle.py then runs the
same loop in Python, with the same results. -ffp-contract=off: no fused multiply-adds, so the
C arithmetic is CPython's, bit for bit."""
from setuptools import Extension, setup

setup(ext_modules=[Extension("spinewise.signal.exercise._idle_loop",
                             ["spinewise/signal/exercise/_idle_loop.c"],
                             extra_compile_args=["-O2", "-ffp-contract=off"], optional=True)])
