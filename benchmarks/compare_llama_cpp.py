#!/usr/bin/python3
"""glmv against llama.cpp on the same synthetic GLM-4.5V (real widths, 4 layers), side by side (issue 15).

Speed claims against llama.cpp hold only when both run on this machine in the same session, on the same shapes
and bits, so this script writes the model both ways and alternates the two runtimes pair by pair (glmv first in
even pairs, llama.cpp first in odd ones), 2 threads each:
  glmv       .glmv from `glmv synth --config benchmarks/configs/glm45v-4layer.json --format glmv --recipe mixed`
             (int4 g32 routed experts, int8 g32 elsewhere, BF16 vision tower)
  llama.cpp  GGUFs from ../shared/peer: synth_gguf_glm4moe.py (Q4_0 routed experts, Q8_0 elsewhere) and
             synth_gguf_glm4v_mmproj.py (F16 vision tower). llama.cpp is never a dependency of glmv: without
             --llama-cpp this script skips (exit 77), or with --glmv-only measures glmv's side alone.
Figure groups (--figures, comma-separated):
  short   decode tok/s after a short prompt, prefill tok/s of 512 and of 4096 tokens     (--pairs, default 3)
  long    decode tok/s after 16K and after 32K tokens of context            (--long-pairs 2, --pairs-32k 1)
  vision  image encode seconds at 448x448 and 1024x1024 (--pairs), 1920x2480 page scan (--long-pairs)
Peak RSS of every process (wait4's ru_maxrss, what /usr/bin/time -v prints) rides along. Decode's bandwidth
ratio names its yardstick: bench_util's read bandwidth, measured by bench_decode in the same pair.
Prints one JSON line per run and per figure, then a table and the group's wall time.

  benchmarks/compare_llama_cpp.py --llama-cpp LLAMA_BUILD_DIR [--figures short,vision] [--work-dir DIR]
      [--glmv-model MODEL.glmv] [--glmv-build build] [--pairs 3] [--long-pairs 2] [--pairs-32k 1]
      [--cpu-lock /work/cpu.lock [--lock-per-run]] [--no-prefill-4096] [--vision-sizes 448x448,...]
      [--gguf-py DIR] [--peer-dir ../shared/peer]
"""
import argparse
import datetime
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare_runtimes import Glmv, Llama, decode_bytes_per_token  # noqa: E402
from compare_tools import (CpuLock, check_free_space, cpu_name, emit, fail, median, read_gguf, run,  # noqa: E402
                           write_png)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GLMV_NAME, TEXT_GGUF, MMPROJ_GGUF = "glm45v-4l-mixed.glmv", "glm45v-4l-q4_0.gguf", "glm45v-mmproj-f16.gguf"
# Sizes on disk (the 4-layer model), for the free-space check before writing.
SIZE = {"glmv": 7.5e9, "text": 5.8e9, "mmproj": 1.75e9, "vision_tmp": 1.8e9}
PAGE_PIXELS = 2_000_000  # an image larger than this is a "page scan": --long-pairs


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--llama-cpp", metavar="BUILD_DIR",
                   help="llama.cpp CMake build dir (with bin/llama-bench, bin/llama-mtmd-cli)")
    p.add_argument("--glmv-only", action="store_true", help="without --llama-cpp: measure glmv's side alone")
    p.add_argument("--figures", default="short", help="comma-separated groups: short, long, vision (default short)")
    p.add_argument("--work-dir", default=os.getcwd(), help="where the models and images are written or reused")
    p.add_argument("--glmv-model", help=f"reuse this .glmv (default WORK_DIR/{GLMV_NAME}, written if absent)")
    p.add_argument("--glmv-build", default=os.path.join(REPO, "build"), help="glmv's release build dir")
    p.add_argument("--glmv-kv-type", choices=["f32", "bf16", "int8"],
                   help="glmv's keys and values (--kv-type; default: glmv's own, bf16 for a .glmv)")
    p.add_argument("--pairs", type=int, default=3, help="pairs for short figures and 448/1024 encodes")
    p.add_argument("--long-pairs", type=int, default=2, help="pairs for decode at 16K and the page scan")
    p.add_argument("--pairs-32k", type=int, default=1, help="pairs for decode at 32K")
    p.add_argument("--no-prefill-4096", action="store_true", help="skip the 4096-token prefill in 'short'")
    p.add_argument("--vision-sizes", default="448x448,1024x1024,1920x2480")
    p.add_argument("--cpu-lock", help="lock file taken exclusively (flock) around each pair, e.g. /work/cpu.lock")
    p.add_argument("--lock-per-run", action="store_true",
                   help="take --cpu-lock around each run instead of each pair (long figures: shorter holds)")
    p.add_argument("--peer-dir", default=os.path.join(os.path.dirname(REPO), "shared", "peer"),
                   help="the GGUF writers (synth_gguf_glm4moe.py, synth_gguf_glm4v_mmproj.py)")
    p.add_argument("--gguf-py", help="llama.cpp's gguf-py (default: found above the llama.cpp build dir)")
    a = p.parse_args()
    a.figures = [f.strip() for f in a.figures.split(",") if f.strip()]
    for f in a.figures:
        if f not in ("short", "long", "vision"):
            p.error(f"unknown figure group '{f}' (short, long, vision)")
    return a


# ---- the models, both ways ------------------------------------------------------------------------------------

def glmv_model_ok(glmv, path):
    """The .glmv must be the 4-layer real-width model of the mixed recipe: `glmv inspect --summary` says so."""
    r = run([glmv.glmv, "inspect", path, "--summary"], 120)
    want = ["hidden 4096, layers 4 (first 1 dense)", "experts 128 × 1408 (top 8", '"recipe":"mixed"',
            "vision: hidden 1536, depth 24"]
    missing = [w for w in want if w not in r.stdout]
    return r.code == 0 and not missing, missing or r.stderr.strip()[-300:]


def gguf_problem(path, kind):
    """None if the GGUF at path has the shapes and formats this comparison needs, else what is wrong."""
    try:
        meta, tensors = read_gguf(path)
    except (OSError, ValueError, KeyError) as e:
        return str(e)
    types = {name: t for name, _, t in tensors}
    if kind == "text":
        want = {"general.architecture": "glm4moe", "glm4moe.block_count": 4, "glm4moe.embedding_length": 4096,
                "glm4moe.expert_count": 128, "glm4moe.expert_used_count": 8}
        want_types = {"blk.1.ffn_gate_exps.weight": 2, "blk.0.attn_q.weight": 8, "output.weight": 8}  # Q4_0, Q8_0
    else:
        want = {"clip.projector_type": "glm4v", "clip.vision.block_count": 24, "clip.vision.embedding_length": 1536}
        want_types = {"v.blk.0.attn_q.weight": 1}  # F16
    bad = [f"{k}={meta.get(k)!r} (want {v!r})" for k, v in want.items() if meta.get(k) != v]
    bad += [f"{k} has ggml type {types.get(k)} (want {v})" for k, v in want_types.items() if types.get(k) != v]
    return "; ".join(bad) or None


def find_gguf_py(args):
    if args.gguf_py:
        return args.gguf_py
    d = os.path.abspath(args.llama_cpp)
    for _ in range(3):
        if os.path.isdir(os.path.join(d, "gguf-py", "gguf")):
            return os.path.join(d, "gguf-py")
        d = os.path.dirname(d)
    fail(f"no gguf-py found above {args.llama_cpp}: pass --gguf-py LLAMA_CPP_SOURCE/gguf-py (the GGUF writers need it)")


def prepare_models(args, glmv, want_llama, want_vision):
    os.makedirs(args.work_dir, exist_ok=True)
    glmv_path = args.glmv_model or os.path.join(args.work_dir, GLMV_NAME)
    text, mmproj = os.path.join(args.work_dir, TEXT_GGUF), os.path.join(args.work_dir, MMPROJ_GGUF)
    todo = []
    if os.path.exists(glmv_path):
        ok, why = glmv_model_ok(glmv, glmv_path)
        if not ok:
            fail(f"{glmv_path} is not the 4-layer mixed GLM-4.5V model this comparison needs ({why}); "
                 f"pass another --glmv-model or remove it to have it written")
    else:
        todo.append("glmv")
    if want_llama:
        for path, kind in ((text, "text"), (mmproj, "mmproj")):
            if os.path.exists(path):
                problem = gguf_problem(path, kind)
                if problem:
                    fail(f"{path} exists but is not the GGUF this comparison needs ({problem}); "
                         f"remove it to have it written")
            else:
                todo.append(kind)
    needed = sum(SIZE[k] for k in todo) + (SIZE["vision_tmp"] if want_vision else 0) + 0.5e9
    what = todo + (["bench_vision's temporary tower"] if want_vision else [])
    free = check_free_space(args.work_dir, needed, ", ".join(what) or "temporary files")
    emit({"bench": "compare_files", "glmv_model": glmv_path, "text_gguf": text if want_llama else None,
          "mmproj_gguf": mmproj if want_llama else None, "to_write": todo, "free_bytes": free, "needed_bytes": needed})
    if "glmv" in todo:
        config = os.path.join(REPO, "benchmarks", "configs", "glm45v-4layer.json")
        t0 = time.monotonic()
        run([glmv.glmv, "synth", "--config", config, "--format", "glmv", "--recipe", "mixed", "-o", glmv_path],
            7200).check("glmv synth")
        print(f"compare_llama_cpp: wrote {glmv_path} in {time.monotonic() - t0:.0f} s", file=sys.stderr, flush=True)
    if "text" in todo or "mmproj" in todo:
        env = dict(os.environ, PYTHONPATH=find_gguf_py(args))
        writers = {"text": ["synth_gguf_glm4moe.py", text, "--layers", "4", "--qtype", "Q4_0", "--dense-qtype", "Q8_0"],
                   "mmproj": ["synth_gguf_glm4v_mmproj.py", mmproj]}
        for kind in ("text", "mmproj"):
            if kind in todo:
                script = os.path.join(args.peer_dir, writers[kind][0])
                if not os.path.exists(script):
                    fail(f"GGUF writer missing: {script} (pass --peer-dir)")
                run([sys.executable, script] + writers[kind][1:], 3600, env=env).check(writers[kind][0])
    return glmv_path, text, mmproj


# ---- pairs and figures ----------------------------------------------------------------------------------------

# figure key -> its label in the table (encode and peak RSS keys are labelled by label())
FIGURES = {
    "decode_short_tps": "decode, short context (tok/s)",
    "prefill_512_tps": "prefill 512 tokens (tok/s)",
    "prefill_4096_tps": "prefill 4096 tokens (tok/s)",
    "decode_16k_tps": "decode after 16K context (tok/s)",
    "decode_32k_tps": "decode after 32K context (tok/s)",
    "decode_short_bw_ratio": "decode weight bytes/s ÷ read bandwidth",
    "read_bandwidth": "read bandwidth, the yardstick (GB/s; bench_util via bench_decode)",
    "peak_rss_prefill_4096": "peak RSS, prefill 4096 process (GB)",
    "peak_rss_decode_16k": "peak RSS, decode at 16K process (GB)",
}


def run_pairs(name, pairs, glmv_fn, llama_fn, lock, results, start=0):
    """pairs alternations of the two runs, each pair under the exclusive CPU lock; glmv first in even pairs
    (pairs are numbered from start)."""
    for i in range(start, start + pairs):
        with lock.pair():
            sides = [("glmv", glmv_fn), ("llama.cpp", llama_fn)]
            if i % 2:
                sides.reverse()
            for side, fn in sides:
                if fn is None:
                    continue
                t0 = time.monotonic()
                with lock.run():
                    figures = fn()
                emit({"bench": "compare_run", "task": name, "pair": i, "side": side,
                      "seconds": round(time.monotonic() - t0, 1), **figures})
                results.setdefault((name, i), {})[side] = figures


def summarize(results, has_llama, read_bw_yardstick):
    """Per figure: each side's median over pairs, the glmv ÷ llama.cpp ratio per pair, their median and range."""
    per_figure = {}
    for (task, pair), sides in sorted(results.items()):
        g, l = sides.get("glmv", {}), sides.get("llama.cpp", {})
        if "decode_short_tps" in g:
            g["decode_short_bw_ratio"] = g["decode_ratio_to_read_bandwidth"]
            if l.get("decode_short_tps") and read_bw_yardstick.get("llama_bytes_per_token"):
                l["decode_short_bw_ratio"] = (l["decode_short_tps"] * read_bw_yardstick["llama_bytes_per_token"]
                                              / g["read_bandwidth"])
        for key in set(g) | set(l):
            if key.endswith("_tokens") or key in ("weight_bytes_per_token", "decode_ratio_to_read_bandwidth") \
                    or key.endswith("_note") or key.endswith("_gflop_per_s"):
                continue
            f = per_figure.setdefault(key, {"glmv": [], "llama.cpp": [], "ratio": []})
            if key in g:
                f["glmv"].append(g[key])
            if key in l:
                f["llama.cpp"].append(l[key])
            if key in g and key in l and l[key]:
                f["ratio"].append(g[key] / l[key])
    out = []
    order = list(FIGURES)  # the table's order: FIGURES first, then encodes and the remaining peak RSS rows
    rank = lambda key: (order.index(key) if key in order else len(order), key)  # noqa: E731
    for key, f in sorted(per_figure.items(), key=lambda kf: rank(kf[0])):
        line = {"bench": "compare_figure", "figure": key, "glmv_median": median(f["glmv"]), "glmv_runs": f["glmv"]}
        if has_llama:
            line.update({"llama_cpp_median": median(f["llama.cpp"]), "llama_cpp_runs": f["llama.cpp"],
                         "glmv_over_llama_cpp_median": median(f["ratio"]), "glmv_over_llama_cpp_per_pair": f["ratio"]})
        if key == "decode_short_bw_ratio":
            line["yardstick"] = ("bench_util MeasureReadBandwidth (all threads, 1 GiB; best of start and end of "
                                 "bench_decode) in the same pair; llama.cpp's bytes/token from its GGUF's tensor sizes")
        emit(line)
        out.append(line)
    return out


def label(key):
    if key in FIGURES:
        return FIGURES[key]
    m = re.match(r"encode_(\d+x\d+)_s$", key)
    if m:
        return f"image encode {m.group(1)} (s)"
    m = re.match(r"peak_rss_(.*)$", key)
    return f"peak RSS, {m.group(1).replace('_', ' ')} process (GB)" if m else key


def print_table(lines, has_llama, tokens):
    def fmt(key, v):
        if v is None:
            return "-"
        if key.startswith("peak_rss") or key == "read_bandwidth":
            return f"{v / 1e9:.2f}"
        return f"{v:.2f}" if v < 10 else f"{v:.1f}"

    print()
    if has_llama:
        print("| figure | glmv | llama.cpp | glmv ÷ llama.cpp (per-pair range) | pairs |")
    else:
        print("| figure | glmv | runs |")
    print("|" + "---|" * (5 if has_llama else 3))
    for ln in lines:
        key = ln["figure"]
        name = label(key) + (f" [{tokens[key]}]" if key in tokens else "")
        if has_llama:
            r = ln["glmv_over_llama_cpp_per_pair"]
            ratio = f"{ln['glmv_over_llama_cpp_median']:.2f} ({min(r):.2f}–{max(r):.2f})" if r else "-"
            g, l = fmt(key, ln["glmv_median"]), fmt(key, ln["llama_cpp_median"])
            print(f"| {name} | {g} | {l} | {ratio} | {len(r)} |")
        else:
            print(f"| {name} | {fmt(key, ln['glmv_median'])} | {len(ln['glmv_runs'])} |")
    print(flush=True)


def main():
    args = parse_args()
    if not args.llama_cpp and not args.glmv_only:
        print("compare_llama_cpp: SKIP: no llama.cpp build given (--llama-cpp BUILD_DIR); "
              "--glmv-only measures glmv's side alone. See ../shared/peer/README.md to build llama.cpp.")
        return 77
    if args.llama_cpp and not os.path.isdir(args.llama_cpp):
        fail(f"llama.cpp build dir not found: {args.llama_cpp}")
    t_start = time.monotonic()
    glmv = Glmv(args.glmv_build, None, args.glmv_kv_type)
    want_vision = "vision" in args.figures
    llama_build = args.llama_cpp
    if llama_build:  # a missing binary is reported before any model is written
        Llama(llama_build, None, None)
    glmv.model, text, mmproj = prepare_models(args, glmv, bool(llama_build), want_vision)
    llama = Llama(llama_build, text, mmproj) if llama_build else None
    yard = {"llama_bytes_per_token": decode_bytes_per_token(text) if llama else None}
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    emit({"bench": "compare_setup", "cpu": cpu_name(), "date_utc": now,
          "threads": 2, "figures": args.figures, "glmv_model": glmv.model, "llama_cpp_build": llama_build,
          "llama_cpp_decode_bytes_per_token": yard["llama_bytes_per_token"], "cpu_lock": args.cpu_lock,
          "glmv_kv_type": args.glmv_kv_type or "glmv's default"})
    lock = CpuLock(args.cpu_lock, per_run=args.lock_per_run)
    L = (lambda f: f) if llama else (lambda f: None)
    tokens = {}
    for group in args.figures:
        t0, results = time.monotonic(), {}
        if group == "short":
            run_pairs("short", args.pairs, glmv.short, L(llama and llama.short), lock, results)
            if not args.no_prefill_4096:
                run_pairs("prefill_4096", args.pairs, lambda: glmv.prefill(4096),
                          L(llama and (lambda: llama.prefill(4096))), lock, results)
        elif group == "long":
            run_pairs("decode_16k", args.long_pairs, lambda: glmv.decode_at(16384),
                      L(llama and (lambda: llama.decode_at(16384))), lock, results)
            run_pairs("decode_32k", args.pairs_32k, lambda: glmv.decode_at(32768),
                      L(llama and (lambda: llama.decode_at(32768))), lock, results)
        elif group == "vision":
            sizes = [s for s in args.vision_sizes.split(",") if s]
            images = {}
            for s in sizes:
                w, h = (int(v) for v in s.split("x"))
                images[s] = os.path.join(args.work_dir, f"synthetic-{s}.png")
                if not os.path.exists(images[s]):
                    write_png(images[s], w, h)
            for i in range(max(args.pairs, args.long_pairs)):
                # The page scan takes long: it runs in the first --long-pairs pairs only.
                mine = [s for s in sizes if i < (args.long_pairs if _pixels(s) > PAGE_PIXELS else args.pairs)]
                if not mine:
                    continue

                def llama_side(mine=mine):
                    out = {}
                    for s in mine:
                        out.update(llama.vision(s, images[s]))
                    # One process per image here, one for all of the pair's images on glmv's side: the larger.
                    out["peak_rss_vision"] = max(v for k, v in out.items() if k.startswith("peak_rss_encode_"))
                    return out
                run_pairs("vision", 1, lambda mine=mine: glmv.vision(mine, args.work_dir),
                          L(llama and llama_side), lock, results, start=i)
        for (task, pair), sides in results.items():
            for side in sides.values():
                for k, v in side.items():
                    if k.endswith("_tokens") and v:
                        tokens.setdefault(k[:-len("_tokens")] + "_s", set()).add(v)
        lines = summarize(results, bool(llama), yard)
        wall = time.monotonic() - t0
        emit({"bench": "compare_group", "group": group, "wall_seconds": round(wall, 1)})
        print_table(lines, bool(llama), {k: "/".join(str(t) for t in sorted(v)) + " tokens" for k, v in tokens.items()})
        print(f"compare_llama_cpp: group '{group}' took {wall:.0f} s (wall)", flush=True)
    print(f"compare_llama_cpp: all done in {time.monotonic() - t_start:.0f} s (wall), CPU {cpu_name()}", flush=True)
    return 0


def _pixels(size):
    w, h = (int(v) for v in size.split("x"))
    return w * h


if __name__ == "__main__":
    sys.exit(main())
