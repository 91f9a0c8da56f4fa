"""CSV recordings of one IMU: the offline format spinewise reads, writes and simulates.

API: ``read_chunks(path, chunk_size)`` streams ``ImuChunk``s at constant memory,
``write_csv(path, chunks)`` writes them, ``probe(path)`` summarises a file in one pass,
``read_all(path)`` loads a small one. ``RecordingError`` is a file that cannot be read;
``ReadReport`` counts what was handled; ``ReadPolicy`` tunes the handling.

Modules: ``report`` (error, policy, report, info types), ``parse`` (bytes -> validated rows),
``read`` (header, gyro and rate detection, chunking), ``units`` (units told from the data:
m/s^2, rad/s, ms, epoch; ``read_chunks(..., units=Units())``), ``write`` (numpy text
formatting). ``read_chunks`` also takes ``-`` (standard input) and gzip data.

Format
------
A UTF-8 text file whose first line is exactly ``t,ax,ay,az,gx,gy,gz`` and whose every other
line is one sample::

    t,ax,ay,az,gx,gy,gz
    0.0,0.0123,-0.0051,0.9987,0.31,-1.22,0.05
    0.02,0.0119,-0.0049,0.9991,0.28,-1.19,0.07

``t`` is seconds (absolute epoch seconds or relative to anything; values are kept as
given), ``ax..az`` specific force in g, ``gx..gz`` angular rate in deg/s, all in the
*sensor* frame. Columns after the seventh are ignored (so a recording can carry notes).
``\\r\\n`` line ends, a UTF-8 byte-order mark, blank lines and a final line without a
newline are accepted.

Accelerometer-only recordings (Polar H10 and friends)
-----------------------------------------------------
A recording whose ``gx,gy,gz`` are empty, or exactly zero, on every line has no gyroscope:
its chunks carry ``gyro_dps=None`` and consumers report gyro figures as unavailable.
"Exactly zero throughout" is only known at the end of the file, so the decision is made
up front like this (see ``_decide_gyro``):

1. the first blocks holding at least ``ReadPolicy.peek_rows`` lines are read (they also
   give the sample rate); one non-zero gyro value there proves a gyroscope (the common
   case, costs nothing extra);
2. otherwise, if the input is seekable (a regular file), the rest of the file's gyro
   columns are scanned before the first chunk is yielded, then reading starts over. The
   scan is cheap: C-level counting of the usual "no gyro" line endings (``,,,``,
   ``,0,0,0``, ``,0.0,0.0,0.0``) settles most blocks; a regex and float parsing look only
   at lines that may hold a non-zero value;
3. a non-seekable input (a pipe) is decided from the peek alone; later gyro values are
   then not read. ``ReadReport.gyro_rule`` says which rule decided.

In a recording with a gyroscope, zeros are kept as zeros (a gyro idle for a while) and an
empty gyro field is a ``bad_number`` line. ``write_csv`` leaves the gyro columns empty for
chunks with ``gyro_dps=None``.

Reading bad files
-----------------
Fatal problems raise ``RecordingError`` (with the line number where there is one): file
missing or unreadable, empty file, wrong or undecodable header, fewer than two valid
samples. They are raised on the first ``next()``, before any chunk is yielded.
Everything else is a *handled* problem: the line is dropped (never the rest of the file),
counted in ``ReadReport.counts`` by reason, its line number kept in ``ReadReport.lines``
(the first 10 per reason) and logged (WARNING for the first 10 per reason, then DEBUG).

=================  ==========================================================================
reason             handling
=================  ==========================================================================
``bad_number``     a used field is not a number (or an empty gyro field in a gyro recording)
``short_row``      fewer fields than the columns in use
``not_text``       the line is not UTF-8 text (binary garbage)
``too_long``       more than ``ReadPolicy.max_line_bytes`` without a newline (binary
                   garbage): skipped up to the next newline, so memory stays bounded
``nan``            a used value is NaN or infinite
``duplicate_time`` ``t`` equals the previous kept sample's: the later line is dropped
``non_monotonic``  ``t`` is before the previous kept sample's: the line is dropped
``truncated``      the last line has no newline and does not parse (a cut-off write)
``gap``            ``t`` jumps forward by more than ``ReadPolicy.gap_s``: *kept*, counted,
                   listed in ``ReadReport.gaps`` and in the chunk's ``meta["gaps"]``
=================  ==========================================================================

With ``policy="strict"`` the first handled problem (except a gap) raises instead.
Because a line is judged against the last *kept* sample, a single corrupt time far in the
future would hide all the samples before that time; such a spike (its successor in the
file lands between it and its predecessor) is the line dropped as ``non_monotonic`` instead, so good
data is not lost to one bad timestamp. (A run of several bad times is not recognised.)
Times are never rewritten, so a clock that restarts (time jumps back for good) loses the
samples until it passes its old time again; the count says so, and such a file is better
split at the restart.

Sample rate
-----------
``rate_hz`` of every chunk is 1 / the median sample interval of the first
``ReadPolicy.peek_rows`` valid samples, refined over the intervals within 0.5-1.5x of that
median (so lost samples do not bias it) and rounded to 6 significant digits (50.0, not
49.99999999999996). It is the same for any ``chunk_size``.

Speed and memory
----------------
The file is read in blocks of about 1 MiB; each block is parsed by numpy's C ``loadtxt``
(fast path; measured as fast as ``np.fromstring`` and 7x faster than ``float()`` per
field). A block that fails is split just before the row numpy's error names; the good
parts are parsed fast again and only the few lines around a bad one go through Python line
by line (slow path) to name the problem. Both paths accept the same syntax, so the result
does not depend on where blocks fall (property-tested). Memory is bounded by the block size plus ``chunk_size`` whatever the
file length, and the output is identical for any ``chunk_size``. Figures per CPU second
(benchmarks/bench_recording.py, 24 h at 50 Hz = 4.3 M rows, 16-bit values): reading 0.95 M
rows/s written exactly (386 MB), 1.4 M rows/s with ``decimals=5`` (256 MB), 1.5 M rows/s
accelerometer-only; Python heap < 11 MB throughout. A bad line every 1000 halves the
speed (each costs a re-parse of the good lines before it). Writing builds the text with
numpy (``_format_rows``), ~2.5x faster than ``%r`` formatting.
"""
from spinewise.recording.report import (HEADER, HEADER_LINE, REASONS, Gap, ReadPolicy,
                                        ReadReport, RecordingError, RecordingInfo)
from spinewise.recording.read import probe, read_all, read_chunks
from spinewise.recording.write import write_csv

__all__ = ["HEADER", "HEADER_LINE", "REASONS", "Gap", "ReadPolicy", "ReadReport", "RecordingError",
           "RecordingInfo", "probe", "read_all", "read_chunks", "write_csv"]
