"""Helpers shared by the benchmark scripts (run as ``python benchmarks/<name>.py``)."""


def parse_seeds(spec: str) -> list[int]:
    """'1000-1039' or '1,2,5-7' -> a list of seeds."""
    out: list[int] = []
    for part in spec.split(","):
        if "-" in part:
            a, b = part.split("-")
            out += list(range(int(a), int(b) + 1))
        elif part:
            out.append(int(part))
    return out
