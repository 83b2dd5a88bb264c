"""The two runtimes' sides of compare_llama_cpp.py: for each figure, the command that measures it on each side
and the numbers read from its output. Each function runs one process and returns a dict of figures (None for a
figure that process does not give) plus the process's peak RSS. Standard library only."""
import json
import os
import re

from compare_tools import GGML_BLOCK, fail, read_gguf, run, tensor_bytes

THREADS = 2
TIMEOUT = 3600


def prompt_ids(n):
    """n pseudo-random ids in [10, 99]: two digits each, so a 32K prompt stays under Linux's 128 KiB limit on
    one argument (--prompt-ids). The values do not matter for speed; varying ones route to varying experts."""
    ids, s = [], 12345
    for _ in range(n):
        s = (s * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        ids.append(str(10 + (s >> 33) % 90))
    return ",".join(ids)


# ---- glmv ----------------------------------------------------------------------------------------------------

class Glmv:
    def __init__(self, build, model, kv_type=None):
        self.glmv = os.path.join(build, "apps", "glmv")
        self.kv_flag = ["--kv-type", kv_type] if kv_type else []  # none: glmv's default (bf16 for a .glmv)
        self.bench_decode = os.path.join(build, "benchmarks", "bench_decode")
        self.bench_vision = os.path.join(build, "benchmarks", "bench_vision")
        self.model = model
        for path in (self.glmv, self.bench_decode, self.bench_vision):
            if not os.access(path, os.X_OK):
                fail(f"glmv binary missing: {path} "
                     f"(build it: meson setup {build} --buildtype=release && ninja -C {build})")

    def short(self):
        """bench_decode: prefill of 512 tokens (best of two after a warm-up run) and 64 greedy decode steps after
        it; the read bandwidth yardstick (bench_util, measured before and after in the same process)."""
        r = run([self.bench_decode, self.model, "--prompt-tokens", "512", "--decode-tokens", "64",
                 "--threads", str(THREADS)] + self.kv_flag, TIMEOUT).check("glmv bench_decode")
        lines = {}
        for line in r.stdout.splitlines():
            if line.startswith("{"):
                j = json.loads(line)
                lines.setdefault(j.get("bench"), j)
        d, p = lines["decode"], lines["decode_prefill"]
        return {"decode_short_tps": d["tokens_per_s"], "prefill_512_tps": p["tokens_per_s"],
                "read_bandwidth": d["read_bandwidth"], "weight_bytes_per_token": d["weight_bytes_per_token"],
                "decode_ratio_to_read_bandwidth": d["ratio_to_read_bandwidth"],
                "peak_rss_short": r.peak_rss, "peak_rss_short_note": "includes bench_util's 1 GiB yardstick buffer"}

    def _run_ids(self, n_prompt, n_gen, label):
        # One process, one prefill (chunks of 512, as glmv run does by default), then n_gen greedy tokens.
        r = run([self.glmv, "run", "-m", self.model, "--prompt-ids", prompt_ids(n_prompt), "-n", str(n_gen),
                 "--ignore-eos", "--ctx", str(n_prompt + n_gen + 64), "--threads", str(THREADS), "--json"]
                + self.kv_flag,
                TIMEOUT).check(f"glmv run ({label})")
        j = json.loads(r.stdout.strip().splitlines()[-1])
        return j["timings"], r.peak_rss

    def prefill(self, n):
        t, rss = self._run_ids(n, 1, f"prefill {n}")
        return {f"prefill_{n}_tps": t["prompt_tokens_per_second"], f"peak_rss_prefill_{n}": rss}

    def decode_at(self, depth):
        t, rss = self._run_ids(depth, 32, f"decode at {depth}")
        k = depth // 1024
        return {f"decode_{k}k_tps": t["generated_tokens_per_second"], f"peak_rss_decode_{k}k": rss}

    def vision(self, sizes, work_dir):
        """bench_vision writes its random-weight tower (the real shapes, BF16 like the mixed recipe's vision
        tower; 1.7 GB, deleted after) in work_dir and encodes each size in one process."""
        r = run([self.bench_vision, "--sizes", ",".join(sizes), "--dir", work_dir, "--threads", str(THREADS)],
                TIMEOUT).check("glmv bench_vision")
        out = {"peak_rss_vision": r.peak_rss}
        for line in r.stdout.splitlines():
            j = json.loads(line) if line.startswith("{") else {}
            if j.get("bench") == "vision_encode":
                out[f"encode_{j['image']}_s"] = j["seconds"]
                out[f"encode_{j['image']}_tokens"] = j["tokens"]
                out[f"encode_{j['image']}_gflop_per_s"] = j["gflop_per_s"]
                out[f"encode_{j['image']}_arithmetic_note"] = j["arithmetic"]
                out["f32_gemm_peak_gflop_per_s"] = j["f32_gemm_peak_gflop_per_s"]
                out["bf16_gemm_peak_gflop_per_s"] = j["bf16_gemm_peak_gflop_per_s"]
                for part in ("linear", "attention", "other"):
                    out[f"encode_{j['image']}_share_{part}_note"] = j[f"share_{part}"]
        return out


# ---- llama.cpp ------------------------------------------------------------------------------------------------

class Llama:
    def __init__(self, build, text_gguf, mmproj_gguf):
        self.bench = self._find(build, "llama-bench")
        self.mtmd = self._find(build, "llama-mtmd-cli")
        self.text, self.mmproj = text_gguf, mmproj_gguf

    @staticmethod
    def _find(build, name):
        for path in (os.path.join(build, "bin", name), os.path.join(build, name)):
            if os.access(path, os.X_OK):
                return path
        fail(f"llama.cpp binary missing: {name} in {build}/bin or {build} "
             f"(cmake --build {build} --target llama-bench llama-mtmd-cli)")

    def _bench(self, extra, label):
        r = run([self.bench, "-m", self.text, "-t", str(THREADS), "-r", "1", "-o", "json"] + extra,
                TIMEOUT).check(f"llama-bench ({label})")
        start = r.stdout.find("[")
        tests = json.loads(r.stdout[start:])
        return tests, r.peak_rss

    def short(self):
        tests, rss = self._bench(["-p", "512", "-n", "64"], "pp512 tg64")
        out = {"peak_rss_short": rss}
        for t in tests:
            if t["n_prompt"] == 512 and t["n_gen"] == 0:
                out["prefill_512_tps"] = t["avg_ts"]
            if t["n_prompt"] == 0 and t["n_gen"] == 64:
                out["decode_short_tps"] = t["avg_ts"]
        return out

    def prefill(self, n):
        tests, rss = self._bench(["-p", str(n), "-n", "0"], f"pp{n}")
        return {f"prefill_{n}_tps": tests[0]["avg_ts"], f"peak_rss_prefill_{n}": rss}

    def decode_at(self, depth):
        tests, rss = self._bench(["-p", "0", "-n", "32", "-d", str(depth)], f"tg32 at depth {depth}")
        return {f"decode_{depth // 1024}k_tps": tests[0]["avg_ts"], f"peak_rss_decode_{depth // 1024}k": rss}

    def vision(self, size, image):
        # --image-max-tokens 6144: GLM-4.5V's own cap (glmv's preprocessing keeps it); llama.cpp's GLM4V default
        # is 4096, which would shrink a page scan below glmv's token count. -c 16384: room for those tokens; the
        # default (65536, from the GGUF) would allocate a KV cache no image needs.
        r = run([self.mtmd, "-m", self.text, "--mmproj", self.mmproj, "--chat-template", "chatglm4",
                 "--image", image, "-p", "describe", "-n", "1", "-t", str(THREADS), "-c", "16384",
                 "--image-max-tokens", "6144"],
                TIMEOUT).check(f"llama-mtmd-cli ({size})")
        log = r.stdout + r.stderr
        ms = re.findall(r"(?:mtmd batch encoding done|image slice encoded) in (\d+) ms", log)
        if not ms:
            fail(f"llama-mtmd-cli ({size}) printed no encode time; log tail:\n{log[-800:]}")
        tokens = sum(int(n) for n in re.findall(r"decoding image batch \d+/\d+, n_tokens_batch = (\d+)", log))
        return {f"encode_{size}_s": int(ms[0]) / 1000, f"encode_{size}_tokens": tokens or None,
                f"peak_rss_encode_{size}": r.peak_rss}


def decode_bytes_per_token(text_gguf):
    """Weight bytes one decode token reads in the GGUF: every tensor but the routed experts and the embedding
    table, one embedding row, and top-k of each layer's routed experts (all experts are the same size)."""
    meta, tensors = read_gguf(text_gguf)
    arch = meta.get("general.architecture")
    k, e = meta[f"{arch}.expert_used_count"], meta[f"{arch}.expert_count"]
    total = 0
    for name, dims, kind in tensors:
        if kind not in GGML_BLOCK:
            return None
        b = tensor_bytes(dims, kind)
        if name == "token_embd.weight":
            b //= dims[1]
        elif "_exps." in name:
            b = b * k // e
        total += b
    return total
