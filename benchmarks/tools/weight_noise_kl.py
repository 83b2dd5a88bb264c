#!/usr/bin/env python3
"""How the tiny golden model's KL responds to weight error: adds Gaussian noise at a chosen SNR to the text
matrices a q4 recipe would quantize (embeddings and lm_head at 46 dB, as int8; the router untouched), runs
`glmv check-golden --judge kl` on each noised copy, and prints one JSON line per (SNR, seed) with the mean
KL over the forward cases in free routing and along the reference's routing.

It answers: what ratio of KL should a quantizer with N dB more SNR than another show on this model, and
how much does one realisation of the error move it? (Issue 5's "KL ≤ 0.8 × round-to-nearest's".)

  benchmarks/tools/weight_noise_kl.py [--glmv build/apps/glmv] [--golden ../shared/golden/tiny-glm4v-moe]
                                      [--snr 21.35,22.6,24.6] [--seeds 6] [--work /tmp/noise-kl]

Needs numpy (python3-numpy). The golden model is f32 safetensors; copies go to --work and are deleted.
"""
import argparse, json, os, re, shutil, struct, subprocess, sys, tempfile

import numpy as np


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        base = 8 + n
        tensors = {}
        for name, meta in header.items():
            if name == "__metadata__":
                continue
            if meta["dtype"] != "F32":
                sys.exit(f"{path}: {name} is {meta['dtype']}; this tool expects an F32 model")
            begin, end = meta["data_offsets"]
            f.seek(base + begin)
            tensors[name] = np.frombuffer(f.read(end - begin), dtype=np.float32).reshape(meta["shape"])
    return tensors


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, a in tensors.items():
        b = np.ascontiguousarray(a, dtype=np.float32).tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def noised(tensors, snr_db, seed):
    rng = np.random.default_rng(seed)
    out = {}
    for name, a in tensors.items():
        text_matrix = a.ndim == 2 and "language_model" in name and "mlp.gate.weight" not in name
        if text_matrix or name == "lm_head.weight":
            snr = 46.0 if ("embed_tokens" in name or "lm_head" in name) else snr_db
            power = float((a.astype(np.float64) ** 2).mean()) / 10 ** (snr / 10)
            a = a + rng.standard_normal(a.shape).astype(np.float32) * np.float32(np.sqrt(power))
        out[name] = a
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--glmv", default="build/apps/glmv")
    ap.add_argument("--golden", default="../shared/golden/tiny-glm4v-moe")
    ap.add_argument("--snr", default="21.35,22.6,24.6", help="SNRs in dB, comma-separated")
    ap.add_argument("--seeds", type=int, default=6)
    ap.add_argument("--work", default=None, help="scratch folder (default: a temporary one)")
    args = ap.parse_args()
    work = args.work or tempfile.mkdtemp(prefix="noise-kl-")
    os.makedirs(work, exist_ok=True)
    tensors = read_safetensors(os.path.join(args.golden, "model.safetensors"))
    try:
        for snr in [float(s) for s in args.snr.split(",")]:
            for seed in range(1, args.seeds + 1):
                d = os.path.join(work, f"snr{snr}-seed{seed}")
                os.makedirs(d, exist_ok=True)
                for f in os.listdir(args.golden):
                    if f.endswith(".json") and f != "cases.json":
                        shutil.copy(os.path.join(args.golden, f), d)
                write_safetensors(os.path.join(d, "model.safetensors"), noised(tensors, snr, seed))
                r = subprocess.run([args.glmv, "check-golden", args.golden, "--model", d, "--judge", "kl"],
                                   capture_output=True, text=True)
                free, ref = [], []
                for line in r.stdout.splitlines():
                    m = re.search(r" kl_mean=(\S+)", line)
                    if not m or "generate" in line or line.startswith("check-golden"):
                        continue
                    free.append(float(m.group(1)))
                    m2 = re.search(r"kl_mean_ref_routing=(\S+)", line)
                    ref.append(float(m2.group(1)) if m2 else free[-1])
                if not free:
                    sys.exit(f"no forward cases parsed from check-golden:\n{r.stdout}{r.stderr}")
                print(json.dumps({"bench": "weight_noise_kl", "snr_db": snr, "seed": seed, "forward_cases": len(free),
                                  "kl_mean_free": sum(free) / len(free), "kl_mean_ref_routing": sum(ref) / len(ref)}),
                      flush=True)
                shutil.rmtree(d)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
