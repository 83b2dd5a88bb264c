#!/usr/bin/python3
"""Writes tests/data/tiny-glm4v-moe/tokenizer.json: a Hugging Face byte-level BPE tokenizer for the tiny
golden model (vocab 300), laid out like GLM-4.5's and using GLM-4.5's pre-tokenizer.

  ids   0-255  the 256 single bytes, id = byte value (plain byte order, not GPT-2's order; the vocab
               keys are still GPT-2's byte-to-unicode characters, as ByteLevel requires)
  ids 256-279  24 merges of common English pairs, in merge (= priority) order
  ids 280-299  added tokens at the ids the golden set's README gives; the ids it leaves open hold
               other GLM special tokens in GLM-4.5's relative order:
               281 [MASK] (GLM: between <|endoftext|> and [gMASK]), 283 [sMASK] (between [gMASK] and
               <sop>), 285 <eop> (after <sop>), 294 <think>, 295 </think>, 296 <|begin_of_box|>,
               297 <|end_of_box|>; like GLM-4.5, the last four have "special": false.

Usage: /usr/bin/python3 tests/tools/make_tiny_tokenizer.py  (deterministic; standard library only)
"""
import json
import os

GLM4_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")

# (left, right) in raw text; each result must be new and both parts must already exist. The order is the
# merge priority, so every result must also be what BPE makes of its own text (main() checks this):
# " and" needs " a" and "nd" to come before "an".
MERGES = [
    ("h", "e"), (" ", "t"), (" t", "he"), ("i", "n"), ("e", "r"), (" ", "a"), ("n", "d"), ("a", "n"),
    ("o", "n"), ("r", "e"), ("in", "g"), (" a", "nd"), ("o", "u"), ("a", "t"), ("e", "n"), ("i", "s"),
    ("o", "r"), ("e", "s"), (" ", "s"), (" ", "w"), ("e", "d"), ("l", "l"), ("\n", "\n"), (" ", " "),
]

ADDED = [  # (id, content, special)
    (280, "<|endoftext|>", True), (281, "[MASK]", True), (282, "[gMASK]", True), (283, "[sMASK]", True),
    (284, "<sop>", True), (285, "<eop>", True), (286, "<|system|>", True), (287, "<|user|>", True),
    (288, "<|assistant|>", True), (289, "<|observation|>", True), (290, "<|begin_of_image|>", True),
    (291, "<|end_of_image|>", True), (292, "<|begin_of_video|>", True), (293, "<|end_of_video|>", True),
    (294, "<think>", False), (295, "</think>", False), (296, "<|begin_of_box|>", False),
    (297, "<|end_of_box|>", False), (298, "<|image|>", False), (299, "<|video|>", False),
]


def bytes_to_unicode():
    """GPT-2's byte -> printable character table."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    table, extra = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def merge_bpe(text, merges):
    """Hugging Face BPE on one piece: apply the lowest-ranked listed merge, leftmost first, until none applies."""
    rank = {pair: i for i, pair in enumerate(merges)}
    parts = list(text)
    while True:
        best = min(((rank[(a, b)], i) for i, (a, b) in enumerate(zip(parts, parts[1:])) if (a, b) in rank),
                   default=None)
        if best is None:
            return parts
        i = best[1]
        parts[i:i + 2] = [parts[i] + parts[i + 1]]


def main():
    b2u = bytes_to_unicode()
    show = lambda text: "".join(b2u[b] for b in text.encode("utf-8"))
    vocab = {b2u[b]: b for b in range(256)}
    merges = []
    for left, right in MERGES:
        assert show(left) in vocab and show(right) in vocab and show(left + right) not in vocab, (left, right)
        vocab[show(left + right)] = len(vocab)
        merges.append([show(left), show(right)])
    assert len(vocab) == 280
    for left, right in MERGES:  # every merged token is reachable: BPE of its text is the token itself
        assert merge_bpe(left + right, MERGES) == [left + right], (left, right)
    assert [a[0] for a in ADDED] == list(range(280, 300))
    doc = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [{"id": i, "content": c, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": s} for i, c, s in ADDED],
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": GLM4_PATTERN}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}]},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": merges},
    }
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "tiny-glm4v-moe", "tokenizer.json")
    with open(out, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {os.path.normpath(out)}: {len(vocab)} regular tokens, {len(merges)} merges, {len(ADDED)} added")


if __name__ == "__main__":
    main()
