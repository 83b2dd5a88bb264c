"""Helpers of compare_llama_cpp.py that know nothing of either runtime: running a process and reading its peak
RSS, an exclusive CPU lock per pair, free disk space, a GGUF header reader, a PNG writer and medians.
Standard library only."""
import fcntl
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib


def emit(line):
    import json
    print(json.dumps(line), flush=True)


def fail(message):
    sys.exit(f"compare_llama_cpp: {message}")


def cpu_name():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown"


class Run:
    """One finished process: its output, exit status, wall seconds and peak RSS (bytes)."""

    def __init__(self, argv, stdout, stderr, code, seconds, peak_rss):
        self.argv, self.stdout, self.stderr, self.code = argv, stdout, stderr, code
        self.seconds, self.peak_rss = seconds, peak_rss

    def check(self, what):
        if self.code != 0:
            tail = "\n".join(self.stderr.strip().splitlines()[-6:])
            fail(f"{what} failed (exit status {self.code}): {' '.join(self.argv[:3])} ...\n{tail}")
        return self


def run(argv, timeout, env=None):
    """Runs argv with stdout and stderr to temporary files. Peak RSS is the child's ru_maxrss from wait4(), the
    number `/usr/bin/time -v` prints as "Maximum resident set size", without needing that tool."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.monotonic()
        try:
            p = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env)
        except OSError as e:
            fail(f"could not start {argv[0]}: {e}")
        timer = threading.Timer(timeout, p.kill)  # a hung run must not hold the CPU lock forever
        timer.start()
        _, status, usage = os.wait4(p.pid, 0)
        timer.cancel()
        p.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.monotonic() - t0
        out.seek(0)
        err.seek(0)
        return Run(argv, out.read().decode(errors="replace"), err.read().decode(errors="replace"), p.returncode,
                   seconds, usage.ru_maxrss * 1024)


class _Flock:
    def __init__(self, path):
        self.path = path

    def __enter__(self):
        if self.path:
            self.f = open(self.path, "a")
            t0 = time.monotonic()
            fcntl.flock(self.f, fcntl.LOCK_EX)
            waited = time.monotonic() - t0
            if waited > 1:
                print(f"compare_llama_cpp: waited {waited:.0f} s for {self.path}", file=sys.stderr, flush=True)
        return self

    def __exit__(self, *exc):
        if self.path:
            fcntl.flock(self.f, fcntl.LOCK_UN)
            self.f.close()


class CpuLock:
    """flock(LOCK_EX) on a shared lock file for one alternation pair, so that the two runs of a pair see the
    same quiet machine and other people's builds (which take it shared) run between pairs. per_run takes it
    around each run instead: a pair of long figures (decode after 16K) would hold it too long for the others."""

    def __init__(self, path, per_run=False):
        self.path, self.per_run = path, per_run

    def pair(self):
        return _Flock(None if self.per_run else self.path)

    def run(self):
        return _Flock(self.path if self.per_run else None)


def check_free_space(directory, needed_bytes, what):
    free = shutil.disk_usage(directory).free
    if free < needed_bytes:
        fail(f"not enough disk in {directory}: {what} need {needed_bytes / 1e9:.1f} GB, {free / 1e9:.1f} GB free "
             f"(reuse files with --work-dir / --glmv-model, or free space)")
    return free


# GGUF (llama.cpp's file format): header, key-value metadata, tensor infos. Only what the shape check needs.
_GGUF_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
# ggml type id -> (elements per block, bytes per block)
GGML_BLOCK = {0: (1, 4), 1: (1, 2), 2: (32, 18), 8: (32, 34), 30: (1, 2)}
GGML_NAME = {0: "F32", 1: "F16", 2: "Q4_0", 8: "Q8_0", 30: "BF16"}


def read_gguf(path):
    """Returns (metadata dict, [(name, dims, ggml type)]); long arrays are kept as their length only."""
    with open(path, "rb") as f:
        def take(fmt):
            size = struct.calcsize(fmt)
            data = f.read(size)
            if len(data) != size:
                raise ValueError(f"{path}: truncated GGUF header")
            return struct.unpack(fmt, data)[0]

        def string():
            return f.read(take("<Q")).decode(errors="replace")

        def value(kind):
            if kind in _GGUF_SCALARS:
                return take(_GGUF_SCALARS[kind])
            if kind == 8:
                return string()
            if kind == 9:
                inner, n = take("<I"), take("<Q")
                items = [value(inner) for _ in range(n)]
                return items if n <= 16 else n
            raise ValueError(f"{path}: unknown GGUF value type {kind}")

        if f.read(4) != b"GGUF":
            raise ValueError(f"{path}: not a GGUF file")
        take("<I")  # version
        n_tensors, n_kv = take("<Q"), take("<Q")
        meta = {}
        for _ in range(n_kv):
            key = string()
            meta[key] = value(take("<I"))
        tensors = []
        for _ in range(n_tensors):
            name = string()
            dims = [take("<Q") for _ in range(take("<I"))]
            kind = take("<I")
            take("<Q")  # offset
            tensors.append((name, dims, kind))
        return meta, tensors


def tensor_bytes(dims, kind):
    n = 1
    for d in dims:
        n *= d
    block, size = GGML_BLOCK[kind]
    return n // block * size


def write_png(path, width, height):
    """The synthetic picture bench_vision encodes (red = x, green = y, blue = x xor y), as an 8-bit RGB PNG."""
    red = bytes(x * 255 // width for x in range(width))
    xs = range(width)
    rows = bytearray()
    for y in range(height):
        row = bytearray(3 * width)
        row[0::3] = red
        row[1::3] = bytes([y * 255 // height]) * width
        row[2::3] = bytes((x ^ y) & 255 for x in xs)
        rows += b"\0" + row

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(rows), 6))
                + chunk(b"IEND", b""))
    os.replace(tmp, path)


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None
