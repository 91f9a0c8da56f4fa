"""spinewise.memory: freed heap goes back to the OS where the C library can do it."""
import platform

from spinewise.memory import release_free_memory


def rss_kb() -> int:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))


def test_freed_heap_is_returned_on_glibc():
    if platform.libc_ver()[0] != "glibc":
        assert release_free_memory() is False
        return
    blocks = [bytearray(64 * 1024) for _ in range(2000)]      # ~128 MB from malloc's heap
    for b in blocks:
        b[::4096] = b"x" * len(b[::4096])                      # touch every page
    sentinel = bytearray(64 * 1024)     # above them: free() alone cannot shrink the heap's top
    del blocks
    before = rss_kb()
    assert release_free_memory() is True
    assert rss_kb() < before - 50_000                          # the free pages handed back
    del sentinel
