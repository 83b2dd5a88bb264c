#!/usr/bin/python3
"""Single-sequence decode of two glmv builds, alternating in one session: is the new one slower?

    benchmarks/tools/ab_decode.py BASE_BENCH_DECODE NEW_BENCH_DECODE MODEL [--pairs 5] [--prompt-tokens 64]
                                   [--decode-tokens 32] [--threads 2]

Runs `bench_decode` of each build in turn (base, new, base, new, ...), so both see the same machine state,
and prints one JSON line per run and a summary: per pair the ratio new/base of the median-step decode
tokens/s, and the median of those ratios (issue 12: ≥ 0.97 means not slower).
"""
import argparse
import json
import statistics
import subprocess
import sys


def run(binary, args):
    cmd = [binary, args.model, "--prompt-tokens", str(args.prompt_tokens), "--decode-tokens", str(args.decode_tokens),
           "--threads", str(args.threads)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        d = json.loads(line)
        if d.get("bench") == "decode":
            return d["median_tokens_per_s"], d["tokens_per_s"]
    raise SystemExit(f"{binary}: no decode line in its output")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("base")
    p.add_argument("new")
    p.add_argument("model")
    p.add_argument("--pairs", type=int, default=5)
    p.add_argument("--prompt-tokens", type=int, default=64)
    p.add_argument("--decode-tokens", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    ratios = []
    for i in range(args.pairs):
        base_median, base_mean = run(args.base, args)
        new_median, new_mean = run(args.new, args)
        ratios.append(new_median / base_median)
        print(json.dumps({"bench": "ab_decode_pair", "pair": i, "base_median_tokens_per_s": base_median,
                          "new_median_tokens_per_s": new_median, "base_tokens_per_s": base_mean,
                          "new_tokens_per_s": new_mean, "ratio_new_over_base": ratios[-1]}), flush=True)
    print(json.dumps({"bench": "ab_decode", "pairs": args.pairs, "prompt_tokens": args.prompt_tokens,
                      "decode_tokens": args.decode_tokens, "ratios": ratios,
                      "median_ratio_new_over_base": statistics.median(ratios)}))


if __name__ == "__main__":
    sys.exit(main())
