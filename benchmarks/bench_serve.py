#!/usr/bin/env python3
"""glmv serve under load: aggregate decode throughput of 4 concurrent clients next to 1, and the time to the
first token of an answer about a 448x448 image with and without the prefix cache (issue 13).

    benchmarks/bench_serve.py MODEL.glmv [--glmv build/apps/glmv] [--pairs 3] [--tokens 64] [--clients 4]
                              [--ttft-trials 3] [--threads N]

MODEL must carry a tokenizer (e.g. `glmv synth --config benchmarks/configs/glm45v-4layer.json --tokenizer-from
../shared/ref/glm-4.5v/glm-4.5 --tokenizer-from ../shared/ref/glm-4.5v/glm-4-9b-chat`, then `glmv convert`).
It starts `glmv serve --port 0` itself and stops it at the end. Prints JSON lines:

- `throughput`, once per pair of runs: 1 client making `clients` requests one after another, then `clients`
  clients making one request each at once (same prompts, `--tokens` tokens each, thinking off, temperature 0
  but EOS allowed: tokens are counted from `usage`), aggregate completion tokens/s of each and their ratio;
  the runs alternate so the machine's drift falls on both.
- `ttft`, once per trial: time to the first token of an answer (first SSE chunk carrying text) for a
  request with a fresh 448x448 image (encoded by the vision tower) and for the same request again (its image
  and prompt from the prefix cache), with `cached_tokens` and the ratio.
- `summary`: medians of the ratios. Figures are ratios measured in the same run because the machine is
  shared; absolute seconds are printed alongside but only compare within one run.

Standard library only (urllib, threads): runs with Debian's /usr/bin/python3.
"""
import argparse
import base64
import json
import os
import statistics
import struct
import subprocess
import sys
import threading
import time
import urllib.request
import zlib


def png_bytes(width, height, seed):
    """An RGB PNG of a smooth pattern that depends on `seed` (a different seed is a different image, so the
    prefix cache cannot supply it)."""
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter: none
        for x in range(width):
            rows += bytes(((x * 3 + seed * 17) & 255, (y * 5 + seed * 29) & 255, ((x ^ y) + seed * 7) & 255))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(rows), 6)) + chunk(b"IEND", b"")


class Server:
    def __init__(self, glmv, model, threads, parallel):
        cmd = [glmv, "serve", "-m", model, "--port", "0", "--parallel", str(parallel), "--ctx", "2048"]
        if threads:
            cmd += ["--threads", str(threads)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        if ":" not in line:
            sys.exit(f"bench_serve: glmv serve printed {line!r} instead of its address")
        self.port = int(line.rsplit(":", 1)[1])
        self.base = f"http://127.0.0.1:{self.port}"
        for _ in range(1200):  # the model loads while /health answers 503
            try:
                with urllib.request.urlopen(self.base + "/health", timeout=5) as r:
                    if r.status == 200:
                        return
            except Exception:
                pass
            if self.proc.poll() is not None:
                sys.exit("bench_serve: glmv serve exited while loading")
            time.sleep(0.25)
        sys.exit("bench_serve: glmv serve did not become ready in 5 minutes")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    def post(self, body):
        req = urllib.request.Request(self.base + "/v1/chat/completions", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=3600) as r:
            return json.loads(r.read())

    def stream_ttft(self, body):
        """Seconds to the first chunk carrying text, the whole answer's seconds, and the usage."""
        body = dict(body, stream=True, stream_options={"include_usage": True})
        req = urllib.request.Request(self.base + "/v1/chat/completions", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        start = time.perf_counter()
        first = None
        usage = None
        with urllib.request.urlopen(req, timeout=3600) as r:
            for raw in r:
                line = raw.decode().strip()
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                chunk = json.loads(line[6:])
                if chunk.get("usage"):
                    usage = chunk["usage"]
                for choice in chunk.get("choices", []):
                    delta = choice.get("delta", {})
                    if first is None and (delta.get("content") or delta.get("reasoning_content")):
                        first = time.perf_counter() - start
        return first, time.perf_counter() - start, usage

    def metric(self, name):
        with urllib.request.urlopen(self.base + "/metrics", timeout=10) as r:
            for line in r.read().decode().splitlines():
                if line.startswith(name + " "):
                    return float(line.split()[1])
        return None


def chat(text, tokens, image=None):
    content = [{"type": "text", "text": text}]
    if image is not None:
        url = "data:image/png;base64," + base64.b64encode(image).decode()
        content.insert(0, {"type": "image_url", "image_url": {"url": url}})
    return {"model": "m", "messages": [{"role": "user", "content": content}], "max_tokens": tokens,
            "temperature": 0, "chat_template_kwargs": {"enable_thinking": False}}


def run_clients(server, bodies, concurrent):
    """Completion tokens and wall seconds of `bodies`, one after another or all at once."""
    tokens = [0] * len(bodies)
    errors = []

    def one(i):
        try:
            tokens[i] = server.post(bodies[i])["usage"]["completion_tokens"]
        except Exception as e:  # a failed request spoils the figure: report it
            errors.append(f"request {i}: {e}")

    start = time.perf_counter()
    if concurrent:
        threads = [threading.Thread(target=one, args=(i,)) for i in range(len(bodies))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    else:
        for i in range(len(bodies)):
            one(i)
    wall = time.perf_counter() - start
    if errors:
        sys.exit("bench_serve: " + "; ".join(errors))
    return sum(tokens), wall


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("--glmv", default=os.path.join(here, "..", "build", "apps", "glmv"))
    ap.add_argument("--pairs", type=int, default=3, help="alternating 1-client / N-client runs (default 3)")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--tokens", type=int, default=64, help="max_tokens of each throughput request")
    ap.add_argument("--ttft-trials", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()

    wall_start = time.perf_counter()
    server = Server(args.glmv, args.model, args.threads, args.clients)
    try:
        print(json.dumps({"bench": "serve", "model": os.path.basename(args.model), "clients": args.clients,
                          "tokens": args.tokens, "cpu": cpu_name()}), flush=True)
        # Distinct prompts so no request's prefix comes from another's cache.
        bodies = [chat(f"Request {i}: write a long story about the number {i * 7919}.", args.tokens)
                  for i in range(args.clients)]
        run_clients(server, bodies[:1], False)  # warm-up: page in the weights
        ratios = []
        for pair in range(args.pairs):
            one_tok, one_s = run_clients(server, bodies, False)
            many_tok, many_s = run_clients(server, bodies, True)
            one_rate, many_rate = one_tok / one_s, many_tok / many_s
            ratios.append(many_rate / one_rate)
            print(json.dumps({"figure": "throughput", "pair": pair, "one_client_tok_s": round(one_rate, 2),
                              "one_client_tokens": one_tok, "concurrent_tok_s": round(many_rate, 2),
                              "concurrent_tokens": many_tok, "ratio": round(ratios[-1], 3)}), flush=True)

        ttft_ratios = []
        encodes_before = server.metric("glmv_vision_images_encoded_total")
        for trial in range(args.ttft_trials):
            body = chat("Describe this picture.", 8, png_bytes(448, 448, seed=1000 + trial))
            cold, _, cold_usage = server.stream_ttft(body)
            warm, _, warm_usage = server.stream_ttft(body)
            cached = ((warm_usage or {}).get("prompt_tokens_details") or {}).get("cached_tokens")
            ttft_ratios.append(cold / warm if cold and warm else float("nan"))
            print(json.dumps({"figure": "ttft", "trial": trial, "image": "448x448",
                              "prompt_tokens": (cold_usage or {}).get("prompt_tokens"),
                              "fresh_s": round(cold, 3), "cached_s": round(warm, 3), "cached_tokens": cached,
                              "fresh_over_cached": round(ttft_ratios[-1], 2)}), flush=True)
        encodes_after = server.metric("glmv_vision_images_encoded_total")
        summary = {"summary": "serve", "concurrent_over_one_median": round(statistics.median(ratios), 3),
                   "ttft_fresh_over_cached_median": round(statistics.median(ttft_ratios), 2),
                   "wall_s": round(time.perf_counter() - wall_start, 1)}
        summary["vision_encodes"] = int(encodes_after - encodes_before)
        summary["vision_encodes_expected"] = args.ttft_trials
        print(json.dumps(summary), flush=True)
    finally:
        server.stop()


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


if __name__ == "__main__":
    main()
