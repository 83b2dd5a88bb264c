#!/usr/bin/python3
"""Experts streamed from disk under a memory budget, against plain mmap of the same file (issue 14 item 6).

Drives build/benchmarks/bench_streaming (one run per process) and prints JSON lines:
  streaming_setup   the CPU (/proc/cpuinfo model name), the model, the budget, the skew label
  streaming_disk    the disk read bandwidth: O_DIRECT sequential read of the model file (first and last)
  streaming_run     per run: mode cache|mmap, decode tok/s, time to first token, every expert cache counter,
                    disk bytes/s while experts miss and its ratio to the disk bandwidth, VmHWM,
                    memory.max_usage_in_bytes of the run's cgroup
  streaming_memory_held  the cache mode without a cgroup: VmHWM <= budget x 1.1 with the model >= 1.5x it
  streaming_summary cache / mmap decode tok/s per pair and their median, the acceptance checks
Before each run the page cache is dropped (sync; echo 3 > /proc/sys/vm/drop_caches) and the run's process is
placed, before it executes, into a fresh cgroup v1 memory limit equal to the budget, removed afterwards.
Root is needed for both. Standard library only.

  benchmarks/bench_streaming.py [MODEL.glmv] [--budget 6G] [--pairs 3] [--decode-tokens 32]
      [--prompt-tokens 512] [--prefill-chunk 512] [--skew LABEL] [--prefetch 0|1] [--prefetch-top N] [--threads N] [--bin build/benchmarks/bench_streaming]
      [--disk-bytes 8G] [--no-memory-held] [--timeout 3600]
"""
import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare_tools import cpu_name  # noqa: E402

CGROUP_ROOT = "/sys/fs/cgroup/memory"
HERE = os.path.dirname(os.path.abspath(__file__))


def emit(line):
    print(json.dumps(line), flush=True)


def parse_size(text):
    """Plain bytes, or K/M/G/T (powers of 1000) or KiB/MiB/GiB/TiB (powers of 1024), as bench_streaming takes."""
    units = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
             "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}
    t = text.strip()
    i = len(t)
    while i > 0 and not (t[i - 1].isdigit() or t[i - 1] == "."):
        i -= 1
    unit = t[i:].upper()
    if i == 0 or unit not in units:
        raise argparse.ArgumentTypeError(f"'{text}' is not a size (e.g. 6G, 6GiB, 6000M)")
    return int(float(t[:i]) * units[unit])


def drop_caches():
    subprocess.run(["sync"], check=True)
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


class Cgroup:
    """A cgroup v1 memory group with a limit; the child joins it before exec (so all its memory is charged)."""

    def __init__(self, name, limit):
        self.path = os.path.join(CGROUP_ROOT, name)
        os.mkdir(self.path)
        self.write("memory.limit_in_bytes", str(limit))
        self.limit = int(self.read("memory.limit_in_bytes"))

    def write(self, name, text):
        with open(os.path.join(self.path, name), "w") as f:
            f.write(text)

    def read(self, name):
        with open(os.path.join(self.path, name)) as f:
            return f.read().strip()

    def join(self):  # runs in the child between fork and exec
        self.write("cgroup.procs", str(os.getpid()))

    def figures(self):
        out = {"cgroup": self.path, "memory_limit_in_bytes": self.limit,
               "memory_max_usage_in_bytes": int(self.read("memory.max_usage_in_bytes")),
               "memory_failcnt": int(self.read("memory.failcnt"))}
        for line in self.read("memory.oom_control").splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                out["oom_kills"] = int(value)
        return out

    def remove(self):
        # Charges left by the page cache move to the parent; an empty group (no tasks) can always go. Retry
        # briefly: the exited child may still be listed for a moment.
        for _ in range(50):
            try:
                os.rmdir(self.path)
                return
            except OSError:
                time.sleep(0.1)
        print(f"bench_streaming.py: could not remove {self.path}", file=sys.stderr)


def run_worker(args, argv, cgroup=None):
    """Runs bench_streaming with argv; returns (its JSON line or None, exit status, stderr tail)."""
    proc = subprocess.Popen([args.bin] + argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=cgroup.join if cgroup else None)
    try:
        out, err = proc.communicate(timeout=args.timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        err += f"\ntimed out after {args.timeout} s"
    line = None
    for text in out.splitlines():
        if text.startswith("{"):
            line = json.loads(text)
    return line, proc.returncode, err.strip()[-2000:]


def describe_exit(code):
    if code is not None and code < 0:
        name = signal.Signals(-code).name
        return f"killed by {name}" + (" (the OOM killer under the cgroup limit?)" if name == "SIGKILL" else "")
    return f"exit status {code}"


def measure_disk(args):
    drop_caches()
    line, code, err = run_worker(args, ["disk", args.model, "--disk-bytes", str(args.disk_bytes)])
    if code != 0 or not line:
        sys.exit(f"bench_streaming.py: the disk measurement failed ({describe_exit(code)}): {err}")
    emit(line)
    return line["bytes_per_s"]


def run_mode(args, mode, index, disk_bw, use_cgroup=True):
    argv = ["run", args.model, "--mode", mode, "--budget", str(args.budget), "--prompt-tokens",
            str(args.prompt_tokens), "--decode-tokens", str(args.decode_tokens), "--prefill-chunk",
            str(args.prefill_chunk), "--policy", args.policy, "--vision-share", str(args.vision_share),
            "--prefetch", str(args.prefetch), "--prefetch-top", str(args.prefetch_top)]
    if args.threads:
        argv += ["--threads", str(args.threads)]
    drop_caches()
    cgroup = Cgroup(f"glmv-bench-streaming-{os.getpid()}-{index}", args.budget) if use_cgroup else None
    try:
        line, code, err = run_worker(args, argv, cgroup)
        figures = cgroup.figures() if cgroup else {}
    finally:
        if cgroup:
            cgroup.remove()
    if code != 0 or not line or line.get("bench") != "streaming_run":
        out = {"bench": "streaming_run", "mode": mode, "run": index, "skew": args.skew, "failed": describe_exit(code),
               "stderr": err}
        out.update(figures)
        emit(out)
        return None
    line["run"] = index
    line["skew"] = args.skew
    line["cgroup_limit"] = use_cgroup
    line.update(figures)
    line["disk_bandwidth_bytes_per_s"] = disk_bw
    # Cache: the reader's bytes over the time spent in its reads. mmap: the process's disk reads over the whole
    # decode time (page faults cannot be timed apart), a lower bound of its rate while it misses.
    rate = line.get("expert_read_bytes_per_s_while_missing", line["disk_bytes_per_s_decode"])
    line["disk_bytes_per_s_while_missing"] = rate
    line["disk_ratio"] = rate / disk_bw if disk_bw else 0
    emit(line)
    return line


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", nargs="?", default="/work/models/glm45v-12l.glmv")
    p.add_argument("--budget", type=parse_size, default=parse_size("6G"))
    p.add_argument("--pairs", type=int, default=3)
    p.add_argument("--decode-tokens", type=int, default=32)
    p.add_argument("--prompt-tokens", type=int, default=512)
    p.add_argument("--prefill-chunk", type=int, default=512,
                   help="prompt tokens per step (MoE acquires a step's experts in groups that fit the cache)")
    p.add_argument("--skew", default="0", help="a label: the --expert-skew the model was synthesized with")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--policy", default="lru-per-layer", help="the cache's policy: lru-per-layer or lfu-decay-per-layer")
    p.add_argument("--prefetch", type=int, choices=(0, 1), default=0,
                   help="1: read the next layer's predicted experts ahead (glmv's --expert-prefetch); 0: off, "
                        "glmv's default")
    p.add_argument("--prefetch-top", type=int, default=0,
                   help="with --prefetch 1, read only each token's N heaviest predicted experts (0: all)")
    p.add_argument("--vision-share", type=int, choices=(0, 1), default=1,
                   help="1: the cache also holds the vision tower's share, lent back while images encode "
                        "(glmv's memory plan); 0: the tower counts as resident")
    p.add_argument("--disk-bytes", type=parse_size, default=parse_size("8G"))
    p.add_argument("--bin", default=os.path.join(HERE, "..", "build", "benchmarks", "bench_streaming"))
    p.add_argument("--no-memory-held", action="store_true", help="skip the run without a cgroup")
    p.add_argument("--timeout", type=int, default=3600, help="seconds per run")
    args = p.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench_streaming.py: needs root (drop_caches and cgroups)")
    if not os.path.isdir(CGROUP_ROOT):
        sys.exit(f"bench_streaming.py: no cgroup v1 memory controller at {CGROUP_ROOT}")
    if not os.path.isfile(args.bin):
        sys.exit(f"bench_streaming.py: {args.bin} not built (ninja -C build benchmarks/bench_streaming)")
    file_bytes = os.path.getsize(args.model)
    emit({"bench": "streaming_setup", "cpu": cpu_name(), "cores": os.cpu_count(), "model": args.model,
          "file_bytes": file_bytes, "budget_bytes": args.budget, "file_over_budget": file_bytes / args.budget,
          "skew": args.skew, "vision_share": args.vision_share, "prefetch": args.prefetch, "pairs": args.pairs, "prompt_tokens": args.prompt_tokens,
          "prefill_chunk": args.prefill_chunk, "decode_tokens": args.decode_tokens, "started": time.strftime("%Y-%m-%d %H:%M:%S %Z")})

    disk_first = measure_disk(args)
    runs = {"cache": [], "mmap": []}
    index = 0
    for pair in range(args.pairs):
        order = ("cache", "mmap") if pair % 2 == 0 else ("mmap", "cache")  # alternate who goes first
        for mode in order:
            runs[mode].append(run_mode(args, mode, index, disk_first))
            index += 1
    disk_last = measure_disk(args)
    disk_bw = max(disk_first, disk_last)

    held = None
    if not args.no_memory_held:
        held = run_mode(args, "cache", index, disk_bw, use_cgroup=False)
        if held:
            emit({"bench": "streaming_memory_held", "skew": args.skew, "budget_bytes": args.budget,
                  "file_bytes": file_bytes, "file_over_budget": file_bytes / args.budget,
                  "model_at_least_1_5x_budget": file_bytes >= 1.5 * args.budget,
                  "vm_hwm_bytes": held["vm_hwm_bytes"], "vm_hwm_over_budget": held["vm_hwm_bytes"] / args.budget,
                  "vm_hwm_within_1_1x_budget": held["vm_hwm_bytes"] <= 1.1 * args.budget,
                  "decode_completed": held["decode_tokens"] == args.decode_tokens})

    pairs = [(c, m) for c, m in zip(runs["cache"], runs["mmap"]) if c and m]
    ratios = [c["decode_tokens_per_s"] / m["decode_tokens_per_s"] for c, m in pairs if m["decode_tokens_per_s"] > 0]
    cache_ok = [r for r in runs["cache"] if r]
    mmap_ok = [r for r in runs["mmap"] if r]

    def median(rows, key):
        values = [r[key] for r in rows if r.get(key) is not None]
        return statistics.median(values) if values else None

    cache_disk = median(cache_ok, "disk_bytes_per_s_while_missing")
    emit({"bench": "streaming_summary", "cpu": cpu_name(), "skew": args.skew, "budget_bytes": args.budget,
          "file_bytes": file_bytes, "disk_bandwidth_bytes_per_s": disk_bw,
          "disk_bandwidth_first_last": [disk_first, disk_last],
          "runs_failed": {m: sum(1 for r in runs[m] if r is None) for m in runs},
          "cache_decode_tokens_per_s": median(cache_ok, "decode_tokens_per_s"),
          "mmap_decode_tokens_per_s": median(mmap_ok, "decode_tokens_per_s"),
          "cache_over_mmap_decode_per_pair": ratios,
          "cache_over_mmap_decode_median": statistics.median(ratios) if ratios else None,
          "cache_ttft_seconds": median(cache_ok, "ttft_seconds"), "mmap_ttft_seconds": median(mmap_ok, "ttft_seconds"),
          "cache_decode_hit_rate": median(cache_ok, "decode_hit_rate"),
          "cache_prefetch_accuracy": median(cache_ok, "prefetch_accuracy"),
          "cache_disk_bytes_per_s_while_missing": cache_disk,
          "cache_disk_ratio": cache_disk / disk_bw if cache_disk else None,
          "mmap_disk_ratio": (median(mmap_ok, "disk_bytes_per_s_while_missing") or 0) / disk_bw,
          "cache_memory_max_usage_in_bytes": median(cache_ok, "memory_max_usage_in_bytes"),
          "mmap_memory_max_usage_in_bytes": median(mmap_ok, "memory_max_usage_in_bytes"),
          "accept_disk_ratio_at_least_0_75": bool(cache_disk and cache_disk / disk_bw >= 0.75),
          "accept_cache_at_least_2x_mmap": bool(ratios and statistics.median(ratios) >= 2.0),
          "accept_memory_held": bool(held and held["vm_hwm_bytes"] <= 1.1 * args.budget
                                     and file_bytes >= 1.5 * args.budget)})


if __name__ == "__main__":
    main()
