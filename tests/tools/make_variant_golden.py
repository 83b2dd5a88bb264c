#!/usr/bin/env python3
"""Text-only golden sets for GLM-4.5V-shaped configs with *other* dimensions.

Writes tests/data/variants/<name>/ in exactly the layout of the tiny-glm4v-moe golden set
(config.json, model.safetensors, cases.json, <case>__<key>.npy) so that `glmv check-golden DIR`
can be run on shapes the C++ code was not tuned for: GQA with one kv head, head_dim != hidden/heads,
hidden sizes that are not multiples of 16, partial_rotary_factor 1.0, n_group > 1, several or no
shared experts, no attention bias, all-MoE stacks, top-1 routing, norm_topk_prob = false.

The numbers come from the independent float64 NumPy model in ../shared/golden/tools/check_golden.py
(imported, not re-implemented); outputs are cast to float32 (activations) / int64 (ids, positions).
Generation is a cache-free greedy loop (the full forward re-run each step).

check_golden.Model always reads q/k/v biases and a shared expert. For variants without them this
script adds, in memory only, zero q/k/v biases and a zero shared expert of width 1 (exactly 0 output),
which is the same function as "absent". Nothing is added to the written model.safetensors.

Usage (Debian python with numpy):
  /usr/bin/python3 tests/tools/make_variant_golden.py [--golden-tools DIR] [--tiny DIR] [--out DIR]
                                                      [--only NAME ...] [--sanity-only]
Default paths are relative to the repository root (the parent of tests/).
"""
import argparse
import copy
import hashlib
import json
import os
import struct
import sys
import tempfile

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_TOOLS = os.path.join(REPO, "..", "shared", "golden", "tools")
DEFAULT_TINY = os.path.join(REPO, "..", "shared", "golden", "tiny-glm4v-moe")
DEFAULT_OUT = os.path.join(REPO, "tests", "data", "variants")

MARGIN_MIN = 1e-4  # smallest acceptable router-choice margin / top1-top2 logit gap
N_GENERATE = 6

# ----------------------------------------------------------------------------------------- variants
# Only the text_config fields that differ from the tiny set; everything else is copied from it.
VARIANTS = {
    "gqa1_dense2_nonorm": dict(
        seed=1001, prompt_len=12,
        text=dict(vocab_size=200, hidden_size=48, intermediate_size=24, num_hidden_layers=4,
                  num_attention_heads=3, num_key_value_heads=1, head_dim=16, attention_bias=True,
                  partial_rotary_factor=0.5, rope_theta=500000.0, mrope_section=[2, 1, 1],
                  moe_intermediate_size=24, num_experts_per_tok=3, n_shared_experts=1, n_routed_experts=6,
                  routed_scaling_factor=1.7, n_group=1, topk_group=1, first_k_dense_replace=2,
                  norm_topk_prob=False, rms_norm_eps=1e-6),
        desc="hidden 48, 3 q heads sharing 1 kv head (head_dim 16), rotary 8 of 16 with theta 5e5 and "
             "mrope [2,1,1], layers 0-1 dense, 2-3 MoE: 6 experts top-3, 1 shared, no renormalisation, "
             "scaling 1.7, eps 1e-6"),
    "groups_shared2": dict(
        seed=2002, prompt_len=13,
        text=dict(vocab_size=200, hidden_size=64, intermediate_size=24, num_hidden_layers=3,
                  num_attention_heads=8, num_key_value_heads=4, head_dim=8, attention_bias=True,
                  partial_rotary_factor=1.0, rope_theta=10000.0, mrope_section=[2, 1, 1],
                  moe_intermediate_size=8, num_experts_per_tok=3, n_shared_experts=2, n_routed_experts=8,
                  routed_scaling_factor=1.0, n_group=4, topk_group=2, first_k_dense_replace=1,
                  norm_topk_prob=True, rms_norm_eps=1e-5),
        desc="hidden 64, 8 heads / 4 kv heads of head_dim 8, full rotary (partial 1.0, mrope [2,1,1]), "
             "layer 0 dense, 1-2 MoE: 8 experts in 4 groups, keep 2 groups, top-3, 2 shared experts "
             "(width 16), scaling 1.0"),
    "no_bias_no_shared": dict(
        seed=3003, prompt_len=11,
        text=dict(vocab_size=250, hidden_size=40, intermediate_size=56, num_hidden_layers=2,
                  num_attention_heads=5, num_key_value_heads=5, head_dim=12, attention_bias=False,
                  partial_rotary_factor=0.5, rope_theta=10000.0, mrope_section=[1, 1, 1],
                  moe_intermediate_size=20, num_experts_per_tok=1, n_shared_experts=0, n_routed_experts=4,
                  routed_scaling_factor=2.0, n_group=1, topk_group=1, first_k_dense_replace=0,
                  norm_topk_prob=True, rms_norm_eps=1e-4),
        desc="hidden 40 (not a multiple of 16), 5 heads x head_dim 12 (q width 60), 5 kv heads, rotary 6 "
             "(mrope [1,1,1]), no attention bias, all layers MoE: 4 experts top-1, no shared expert, "
             "scaling 2.0, eps 1e-4 (so a hard-coded 1e-5 shows; intermediate_size is present but unused)"),
}

# Special-token layout of the tiny set (vocab 300); variants shift it to the end of their vocab.
TINY_TOKENS = {"endoftext": 280, "gmask": 282, "sop": 284, "system": 286, "user": 287, "assistant": 288,
               "observation": 289, "begin_of_image": 290, "end_of_image": 291, "begin_of_video": 292,
               "end_of_video": 293, "image": 298, "video": 299}


def import_check_golden(tools_dir):
    sys.path.insert(0, os.path.abspath(tools_dir))
    import check_golden  # noqa: E402
    return check_golden


# ----------------------------------------------------------------------------------------- io
def write_safetensors(path, tensors, metadata=None):
    """float32 safetensors by hand: u64 LE header length, JSON header (space-padded to 8), data."""
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    for name, arr in tensors.items():
        a = np.ascontiguousarray(arr, dtype="<f4")
        b = a.tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((-len(h)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


# ----------------------------------------------------------------------------------------- model
def make_config(tiny_cfg, spec):
    t = spec["text"]
    V = t["vocab_size"]
    tok = {k: v - 300 + V for k, v in TINY_TOKENS.items()}
    cfg = copy.deepcopy(tiny_cfg)
    cfg["image_start_token_id"] = tok["begin_of_image"]
    cfg["image_end_token_id"] = tok["end_of_image"]
    cfg["video_start_token_id"] = tok["begin_of_video"]
    cfg["video_end_token_id"] = tok["end_of_video"]
    cfg["image_token_id"] = tok["image"]
    cfg["video_token_id"] = tok["video"]
    tc = cfg["text_config"]
    for k, v in t.items():
        if k == "mrope_section":
            continue
        tc[k] = v
    tc["rope_scaling"] = {"rope_type": "default", "mrope_section": list(t["mrope_section"])}
    tc["pad_token_id"] = tok["endoftext"]
    tc["eos_token_id"] = [tok["endoftext"], tok["user"], tok["observation"]]
    # the vision tower is unused by text cases; keep the tiny one but make its output match hidden_size
    cfg["vision_config"]["out_hidden_size"] = t["hidden_size"]
    return cfg, tok


def make_weights(cfg, seed):
    tc = cfg["text_config"]
    rng = np.random.default_rng(seed)
    H, V = tc["hidden_size"], tc["vocab_size"]
    nh, nkv, hd = tc["num_attention_heads"], tc["num_key_value_heads"], tc["head_dim"]
    E, I, Im = tc["n_routed_experts"], tc["moe_intermediate_size"], tc["intermediate_size"]
    ns = tc.get("n_shared_experts", 0) or 0

    def lin(out, inp):
        return rng.normal(0.0, inp ** -0.5, (out, inp))

    def bias(n):
        return rng.normal(0.0, 0.1, (n,))

    def norm(n):
        return rng.uniform(0.6, 1.4, (n,))

    def swiglu(pfx, width):
        W[pfx + "gate_proj.weight"] = lin(width, H)
        W[pfx + "up_proj.weight"] = lin(width, H)
        W[pfx + "down_proj.weight"] = lin(H, width)

    W = {}
    p = "model.language_model."
    W[p + "embed_tokens.weight"] = rng.normal(0.0, 1.0, (V, H))
    for L in range(tc["num_hidden_layers"]):
        b = f"{p}layers.{L}."
        W[b + "input_layernorm.weight"] = norm(H)
        W[b + "post_attention_layernorm.weight"] = norm(H)
        for name, rows in (("q", nh * hd), ("k", nkv * hd), ("v", nkv * hd)):
            W[f"{b}self_attn.{name}_proj.weight"] = lin(rows, H)
            if tc["attention_bias"]:
                W[f"{b}self_attn.{name}_proj.bias"] = bias(rows)
        W[b + "self_attn.o_proj.weight"] = lin(H, nh * hd)
        if L < tc["first_k_dense_replace"]:
            swiglu(b + "mlp.", Im)
        else:
            W[b + "mlp.gate.weight"] = lin(E, H)
            W[b + "mlp.gate.e_score_correction_bias"] = rng.uniform(-0.1, 0.1, (E,))
            for e in range(E):
                swiglu(f"{b}mlp.experts.{e}.", I)
            if ns > 0:
                swiglu(b + "mlp.shared_experts.", I * ns)
    W[p + "norm.weight"] = norm(H)
    W["lm_head.weight"] = lin(V, H)
    # round once to float32: the file holds float32, and the reference must use exactly those values
    return {k: v.astype(np.float32) for k, v in W.items()}


def patch_absent(M):
    """Zero stand-ins, in memory, for tensors check_golden.Model always reads but a variant may not have:
    q/k/v biases (attention_bias false) and the shared expert (n_shared_experts 0; a width-1 expert with
    zero weights outputs exactly 0).  Returns the names added."""
    tc, W = M.tc, M.W
    H, hd = tc["hidden_size"], tc["head_dim"]
    added = []

    def put(key, arr):
        if key not in W:
            W[key] = arr
            added.append(key)

    for L in range(tc["num_hidden_layers"]):
        b = f"model.language_model.layers.{L}."
        for name, heads in (("q", tc["num_attention_heads"]), ("k", tc["num_key_value_heads"]),
                            ("v", tc["num_key_value_heads"])):
            put(f"{b}self_attn.{name}_proj.bias", np.zeros(heads * hd))
        if L >= tc["first_k_dense_replace"] and b + "mlp.shared_experts.gate_proj.weight" not in W:
            put(b + "mlp.shared_experts.gate_proj.weight", np.zeros((1, H)))
            put(b + "mlp.shared_experts.up_proj.weight", np.zeros((1, H)))
            put(b + "mlp.shared_experts.down_proj.weight", np.zeros((H, 1)))
    return added


def load_model(cg, d):
    M = cg.Model(d)
    return M, patch_absent(M)


# ----------------------------------------------------------------------------------------- health
def router_margins(M, rec, layers):
    """Per MoE layer: smallest gap k-th vs (k+1)-th corrected score among the kept groups, smallest gap
    between the topk_group-th and next group score (n_group > 1), and how many tokens the correction
    bias re-routed.  Recomputed from the recorded router logits with the spec's §2.6 rules."""
    tc, W = M.tc, M.W
    E, k = tc["n_routed_experts"], tc["num_experts_per_tok"]
    ng, tg = tc["n_group"], tc["topk_group"]
    out = {}
    for li in layers:
        s = 1.0 / (1.0 + np.exp(-rec[f"text_layer{li}_router_logits"]))
        bias = W[f"model.language_model.layers.{li}.mlp.gate.e_score_correction_bias"]
        expert_gap, group_gap, changed, by_groups = np.inf, np.inf, 0, 0
        for row in range(len(s)):
            sel = {}
            for name, c0 in (("biased", s[row] + bias), ("plain", s[row].copy()), ("nogroups", s[row] + bias)):
                c = c0.copy()
                if ng > 1 and name != "nogroups":
                    gs = np.sort(c.reshape(ng, E // ng), -1)[:, -2:].sum(-1)
                    order = np.argsort(-gs, kind="stable")
                    if name == "biased":
                        group_gap = min(group_gap, gs[order[tg - 1]] - gs[order[tg]])
                    for g in order[tg:]:
                        c[g * (E // ng):(g + 1) * (E // ng)] = -np.inf
                srt = np.sort(c)[::-1]
                if name == "biased" and k < E and np.isfinite(srt[k]):
                    expert_gap = min(expert_gap, srt[k - 1] - srt[k])
                sel[name] = set(np.argsort(-c, kind="stable")[:k].tolist())
            changed += sel["biased"] != sel["plain"]
            by_groups += sel["biased"] != sel["nogroups"]
        out[f"layer{li}"] = {"expert_margin": float(expert_gap), "tokens_rerouted_by_bias": int(changed)}
        if ng > 1:
            out[f"layer{li}"]["group_margin"] = float(group_gap)
            out[f"layer{li}"]["tokens_rerouted_by_group_limit"] = int(by_groups)
    return out


def top12_gap(logits):
    s = np.sort(logits, -1)
    return float((s[..., -1] - s[..., -2]).min())


# ----------------------------------------------------------------------------------------- cases
def run_cases(M, prompt, n_gen):
    """Returns {case: {key: array}} for case1_text / case5_generate_text, plus health numbers."""
    L = len(prompt)
    tc = M.tc
    nl = tc["num_hidden_layers"]
    moe_layers = [li for li in range(nl) if li >= tc["first_k_dense_replace"]]
    rec = {}
    logits, delta = M.forward(list(prompt), [0] * L, record=rec)
    assert delta == 0
    f32 = lambda a: np.asarray(a, dtype=np.float64).astype(np.float32)  # noqa: E731
    i64 = lambda a: np.asarray(a).astype(np.int64)  # noqa: E731
    c1 = {"input_ids": i64([prompt]), "mm_token_type_ids": np.zeros((1, L), np.int64), "logits": f32(logits),
          "hf_hidden_states": f32(rec["hf_hidden_states"]), "text_layer_input": f32(rec["text_layer_input"])}
    for li in range(nl):
        c1[f"text_layer{li}_out"] = f32(rec[f"text_layer{li}_out"])
        if li in moe_layers:
            c1[f"text_layer{li}_router_logits"] = f32(rec[f"text_layer{li}_router_logits"])
            c1[f"text_layer{li}_topk_ids"] = i64(rec[f"text_layer{li}_topk_ids"])
            c1[f"text_layer{li}_topk_weights"] = f32(rec[f"text_layer{li}_topk_weights"])
    c1["text_final_norm"] = f32(rec["text_final_norm"])
    c1["position_ids"] = i64(rec["position_ids"])[:, None, :]
    c1["rope_cos"], c1["rope_sin"] = f32(rec["rope_cos"]), f32(rec["rope_sin"])
    health1 = {"min_top1_top2_logit_gap": top12_gap(logits),
               "min_router_choice": router_margins(M, rec, moe_layers)}

    # greedy, cache-free: the whole sequence is re-run every step
    cur, gen, steps, last_rec = list(prompt), [], [], rec
    for _ in range(n_gen):
        r = {}
        lg, _ = M.forward(cur, [0] * len(cur), record=r)
        steps.append(lg[-1])
        tok = int(np.argmax(lg[-1]))
        gen.append(tok)
        cur.append(tok)
        last_rec = r  # the longest run covers the routing of every prompt and generated query token
    steps = np.array(steps)
    c5 = {"input_ids": i64([prompt]), "generated_ids": i64(gen), "step_logits": f32(steps),
          "decode_position_ids": i64(np.tile(np.arange(L - 1, L - 1 + n_gen), (3, 1)))}
    health5 = {"min_top1_top2_logit_gap": top12_gap(steps),
               "min_router_choice": router_margins(M, last_rec, moe_layers)}
    return {"case1_text": c1, "case5_generate_text": c5}, {"case1_text": health1, "case5_generate_text": health5}


def min_margin(health):
    vals = [health["min_top1_top2_logit_gap"]]
    for layer in health["min_router_choice"].values():
        vals.append(layer["expert_margin"])
        if "group_margin" in layer:
            vals.append(layer["group_margin"])
    return min(vals)


KEY_DESC = {
    "input_ids": "[1, L] int64 token ids",
    "mm_token_type_ids": "[1, L] int64: 0 text, 1 image placeholder, 2 video placeholder",
    "logits": "[L, vocab] float32 logits",
    "hf_hidden_states": "[num_layers+1, L, hidden] HF output_hidden_states: [0] = layer-0 input, [i] = output of "
                        "layer i-1, last = final-norm output (HF replaces the last entry with last_hidden_state)",
    "text_layer_input": "[L, hidden] input of decoder layer 0 (token embeddings with vision embeddings scattered in)",
    "text_final_norm": "[L, hidden] final RMSNorm output",
    "position_ids": "[3, 1, L] (t, h, w) M-RoPE position ids fed to the rotary embedding",
    "rope_cos": "[L, rotary_dim] cos table after M-RoPE section interleave (rotary_dim = head_dim * "
                "partial_rotary_factor)",
    "rope_sin": "[L, rotary_dim] sin table, same layout",
}


def key_desc(case, key, arr, n_gen):
    if case == "case5_generate_text":
        return {"input_ids": "[1, L] int64 prompt",
                "generated_ids": f"[{n_gen}] int64 greedy tokens (cache-free greedy loop)",
                "step_logits": f"[{n_gen}, vocab] logits that produced each generated token (step 0 = prefill "
                               "last position)",
                "decode_position_ids": f"[3, {n_gen}] (t,h,w) rope positions of the query token at each step "
                                       "(step 0 = last prompt token)"}[key]
    if key in KEY_DESC:
        return KEY_DESC[key]
    li = key[len("text_layer"):].split("_")[0]
    if key.endswith("_out"):
        return f"[L, hidden] output (residual stream) of decoder layer {li}, before the final norm"
    if key.endswith("_router_logits"):
        return f"[L, n_routed_experts] fp32 router logits of MoE layer {li} (before sigmoid)"
    if key.endswith("_topk_ids"):
        return f"[L, top_k] experts chosen in layer {li} (sorted ascending per token)"
    if key.endswith("_topk_weights"):
        return ("[L, top_k] final routing weights aligned with topk_ids (sigmoid, renormalised if "
                "norm_topk_prob, x routed_scaling_factor)")
    raise KeyError(key)


def write_cases(d, cases, health, meta, n_gen, prompt_len):
    index = dict(meta)
    index["cases"] = {}
    descs = {"case1_text": f"text only, {prompt_len} tokens, no vision input",
             "case5_generate_text": f"greedy generation of {n_gen} tokens from the case-1 prompt, cache-free "
                                    "(full forward re-run each step)"}
    for case, arrays in cases.items():
        files = {}
        for key, arr in arrays.items():
            fn = f"{case}__{key}.npy"
            arr = np.ascontiguousarray(arr)  # C order, like the golden set (np.save keeps F order otherwise)
            np.save(os.path.join(d, fn), arr)
            files[key] = {"file": fn, "dtype": str(arr.dtype), "shape": list(arr.shape),
                          "desc": key_desc(case, key, arr, n_gen)}
        entry = {"desc": descs[case]}
        entry.update(health[case])
        if case == "case5_generate_text":
            entry["generated_ids"] = [int(t) for t in arrays["generated_ids"]]
            entry["prompt_case"] = "case1_text"
        entry["files"] = files
        index["cases"][case] = entry
    with open(os.path.join(d, "cases.json"), "w") as f:
        json.dump(index, f, indent=1)
        f.write("\n")


# ----------------------------------------------------------------------------------------- sanity
def sanity_tiny(cg, tiny):
    """The machinery on the real tiny set: check_golden's model through run_cases must reproduce the
    stored case1_text / case5_generate_text arrays, and the safetensors writer must round-trip."""
    idx = json.load(open(os.path.join(tiny, "cases.json")))

    def ld(case, key):
        return np.load(os.path.join(tiny, idx["cases"][case]["files"][key]["file"]))

    M, patched = load_model(cg, tiny)
    assert not patched, patched
    prompt = [int(t) for t in ld("case1_text", "input_ids")[0]]
    n_gen = len(ld("case5_generate_text", "generated_ids"))
    cases, health = run_cases(M, prompt, n_gen)
    ok = True
    for case, arrays in cases.items():
        files = idx["cases"][case]["files"]
        assert set(arrays) == set(files), (case, sorted(set(arrays) ^ set(files)))
        worst = 0.0
        for key, a in arrays.items():
            g = ld(case, key)
            if a.dtype != g.dtype or a.shape != g.shape:
                print(f"  sanity: {case}/{key}: ours {a.dtype}{a.shape} golden {g.dtype}{g.shape}")
                ok = False
            elif a.dtype.kind == "i":
                if not np.array_equal(a, g):
                    print(f"  sanity: {case}/{key}: ints differ")
                    ok = False
            else:
                d = float(np.abs(a.astype(np.float64) - g).max())
                worst = max(worst, d)
                if d > 3e-5:
                    print(f"  sanity: {case}/{key}: max abs diff {d:.2e}")
                    ok = False
        print(f"  sanity tiny-glm4v-moe {case}: {len(arrays)} keys, worst float diff {worst:.2e}, "
              f"min top1-top2 gap {health[case]['min_top1_top2_logit_gap']:.4g}")
    ref = idx["cases"]["case1_text"]["min_router_choice_margin"]
    ours = {k: v["expert_margin"] for k, v in health["case1_text"]["min_router_choice"].items()}
    print(f"  sanity router margins case1: ours {ours}, cases.json {ref}")
    # safetensors writer round trip on the tiny weights
    with tempfile.TemporaryDirectory() as td:
        p = os.path.join(td, "m.safetensors")
        write_safetensors(p, {k: v.astype(np.float32) for k, v in M.W.items()}, {"format": "pt"})
        back = cg.load_safetensors(p)
        same = set(back) == set(M.W) and all(np.array_equal(back[k], M.W[k]) for k in back)
        print(f"  sanity safetensors writer round trip ({len(back)} tensors): {'ok' if same else 'MISMATCH'}")
        ok &= same
    return ok


# ----------------------------------------------------------------------------------------- main
def build_variant(cg, tiny_cfg, name, spec, out_root):
    d = os.path.join(out_root, name)
    os.makedirs(d, exist_ok=True)
    for fn in os.listdir(d):  # start clean: stale npy files would be listed nowhere but still lie around
        if fn.endswith(".npy") or fn in ("cases.json", "config.json", "model.safetensors"):
            os.remove(os.path.join(d, fn))
    cfg, tok = make_config(tiny_cfg, spec)
    tc = cfg["text_config"]
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    ordinary = tok["endoftext"]  # ids [0, endoftext) are ordinary tokens
    seed = spec["seed"]
    for attempt in range(50):
        W = make_weights(cfg, seed)
        write_safetensors(os.path.join(d, "model.safetensors"), W,
                          {"format": "pt", "seed": seed, "generator": "tests/tools/make_variant_golden.py"})
        M, patched = load_model(cg, d)
        rng = np.random.default_rng(seed + 7)
        body = rng.integers(0, ordinary, spec["prompt_len"] - 4).tolist()
        prompt = [tok["gmask"], tok["sop"], tok["user"]] + body + [tok["assistant"]]
        cases, health = run_cases(M, prompt, N_GENERATE)
        worst = min(min_margin(h) for h in health.values())
        gen = cases["case5_generate_text"]["generated_ids"].tolist()
        eos_hit = any(t in tc["eos_token_id"] for t in gen)
        finite = all(np.isfinite(a).all() for c in cases.values() for a in c.values())
        if worst >= MARGIN_MIN and not eos_hit and finite:
            break
        print(f"  {name}: seed {seed} rejected (min margin {worst:.2e}, eos generated {eos_hit}, "
              f"finite {finite}); trying {seed + 1}")
        seed += 1
    else:
        raise SystemExit(f"{name}: no acceptable seed")
    meta = {
        "format": "numpy .npy (little-endian); float32 activations, int64 ids",
        "generator": "tests/tools/make_variant_golden.py (float64 NumPy reference: "
                     "shared/golden/tools/check_golden.py Model, outputs cast to float32)",
        "variant": name,
        "variant_desc": spec["desc"],
        "seed": seed,
        "dtype": "float32",
        "reference_shims": patched and ["in-memory zero q/k/v biases and a zero width-1 shared expert for "
                                        "check_golden.Model (absent from model.safetensors)"] or [],
        "model_file": {"file": "model.safetensors", "sha256": sha256(os.path.join(d, "model.safetensors")),
                       "num_tensors": len(W)},
        "resolved_text_rope_parameters": {"rope_type": "default", "mrope_section": tc["rope_scaling"]["mrope_section"],
                                          "rope_theta": tc["rope_theta"],
                                          "partial_rotary_factor": tc["partial_rotary_factor"]},
        "token_ids": tok,
        "tokens_where_e_score_correction_bias_changed_expert_choice": {
            c: {k: v["tokens_rerouted_by_bias"] for k, v in h["min_router_choice"].items()}
            for c, h in health.items()},
    }
    write_cases(d, cases, health, meta, N_GENERATE, len(prompt))
    size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
    print(f"{name}: seed {seed}, {len(W)} tensors, model.safetensors "
          f"{os.path.getsize(os.path.join(d, 'model.safetensors'))} B, directory {size} B "
          f"({len(os.listdir(d))} files)")
    print(f"  prompt {prompt}")
    print(f"  generated {gen}")
    for c, h in health.items():
        print(f"  {c}: min top1-top2 logit gap {h['min_top1_top2_logit_gap']:.4g}")
        for layer, v in h["min_router_choice"].items():
            extra = (f", group margin {v['group_margin']:.4g}, group limit re-routed "
                     f"{v['tokens_rerouted_by_group_limit']} tokens" if "group_margin" in v else "")
            print(f"    {layer}: k-th vs (k+1)-th corrected score margin {v['expert_margin']:.4g}{extra}, "
                  f"bias re-routed {v['tokens_rerouted_by_bias']} tokens")
    if patched:
        print(f"  reference shim: {len(patched)} absent tensors stood in by zeros in memory")
    return d


def self_check(cg, d):
    """Run check_golden.py's own main() on the written directory (with the same in-memory stand-ins)."""
    import contextlib
    import io
    orig = cg.Model.__init__

    def init(self, dd):
        orig(self, dd)
        patch_absent(self)

    cg.Model.__init__ = init
    argv, sys.argv = sys.argv, ["check_golden.py", d]
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf):
            cg.main()
        code = 0
    except SystemExit as e:
        code = e.code
    finally:
        sys.argv = argv
        cg.Model.__init__ = orig
    print(f"  check_golden.py self-check: {buf.getvalue().strip().splitlines()[-1]} (exit {code})")
    return code == 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--golden-tools", default=DEFAULT_TOOLS, help="directory holding check_golden.py")
    ap.add_argument("--tiny", default=DEFAULT_TINY, help="the tiny-glm4v-moe golden set (sanity check)")
    ap.add_argument("--out", default=DEFAULT_OUT, help="output root (one directory per variant)")
    ap.add_argument("--only", nargs="*", help="variant names to build (default: all)")
    ap.add_argument("--sanity-only", action="store_true", help="only run the tiny-set sanity check")
    args = ap.parse_args()
    cg = import_check_golden(args.golden_tools)

    print("sanity check on", os.path.abspath(args.tiny))
    if not sanity_tiny(cg, args.tiny):
        raise SystemExit("sanity check on the tiny set FAILED")
    if args.sanity_only:
        return
    tiny_cfg = json.load(open(os.path.join(args.tiny, "config.json")))
    names = args.only or list(VARIANTS)
    ok = True
    for name in names:
        d = build_variant(cg, tiny_cfg, name, VARIANTS[name], args.out)
        ok &= self_check(cg, d)
    if not ok:
        raise SystemExit("self-check FAILED")


if __name__ == "__main__":
    main()
