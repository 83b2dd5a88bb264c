#!/usr/bin/python3
"""Constrained output through glmv serve (issue 13's acceptance): with response_format json_schema and thinking
off, 50 sampled answers (temperature 1, seeds 0..49, two schemas taking turns) all end with finish_reason
"stop", parse, and validate against their schema with Debian's python3-jsonschema, an implementation nobody
here wrote. The schemas close: every value is bounded (enum, const, integer, boolean, ^[a-z]{1,8}$, maxItems,
anyOf, $ref), since the tiny model's byte-level vocabulary lets a free string run for hundreds of tokens.

Usage: constrained_test.py GLMV_BIN MODEL_DIR. Exit 77 (SKIP) without jsonschema.
"""
import concurrent.futures
import ctypes
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

try:
    import jsonschema
except ImportError:
    print("SKIP: no python3-jsonschema")
    sys.exit(77)

POINT = {
    "type": "object",
    "properties": {
        "kind": {"const": "point"},
        "color": {"type": "string", "enum": ["red", "green", "blue"]},
        "count": {"type": "integer"},
        "ok": {"type": "boolean"},
        "name": {"type": "string", "pattern": "^[a-z]{1,8}$"},
        "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b", "c"]}, "maxItems": 3},
    },
    "required": ["kind", "color", "count", "ok", "name", "tags"],
    "additionalProperties": False,
}

# $defs and $ref, anyOf with null, a nested array of objects, annotations (accepted and ignored).
INVOICE = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "invoice",
    "$defs": {
        "line": {
            "type": "object",
            "description": "one line of the invoice",
            "properties": {
                "sku": {"type": "string", "pattern": "^[a-z]{1,8}$"},
                "qty": {"type": "integer"},
                "taxed": {"type": "boolean"},
            },
            "required": ["sku", "qty", "taxed"],
            "additionalProperties": False,
        }
    },
    "type": "object",
    "properties": {
        "currency": {"enum": ["EUR", "USD"]},
        "lines": {"type": "array", "items": {"$ref": "#/$defs/line"}, "minItems": 1, "maxItems": 2},
        "paid": {"anyOf": [{"type": "boolean"}, {"type": "null"}]},
        "version": {"const": 2},
    },
    "required": ["currency", "lines", "paid", "version"],
    "additionalProperties": False,
}

SAMPLES = 50
MAX_TOKENS = 600  # far above any answer these schemas allow (a few dozen to ~150 tokens)


def die_with_parent():
    """In the child before exec: SIGKILL when this test process dies (prctl PR_SET_PDEATHSIG)."""
    ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))


def start_server(glmv, model):
    """glmv serve --port 0 on loopback; returns (process, base URL) once /health answers 200."""
    proc = subprocess.Popen(
        [glmv, "serve", "--port", "0", "--host", "127.0.0.1", "-m", model, "--parallel", "4"],
        stdout=subprocess.PIPE, text=True,
        preexec_fn=die_with_parent,
    )
    first = proc.stdout.readline()  # "glmv serve: listening on http://127.0.0.1:PORT"
    if not first:
        raise RuntimeError("glmv serve printed no line")
    url = first.strip().split(" on ", 1)[1]
    for _ in range(600):
        try:
            with urllib.request.urlopen(url + "/health", timeout=5) as r:
                if r.status == 200:
                    return proc, url
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(0.1)
    raise RuntimeError("glmv serve did not become ready")


def stop_server(proc):
    """SIGTERM by PID, 10 s for a clean stop, then SIGKILL; the exit status."""
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def ask(url, seed):
    schema_name, schema = ("point", POINT) if seed % 2 == 0 else ("invoice", INVOICE)
    body = {
        "model": "tiny",
        "messages": [{"role": "user", "content": "Answer in JSON."}],
        "temperature": 1,
        "seed": seed,
        "max_tokens": MAX_TOKENS,
        "chat_template_kwargs": {"enable_thinking": False},
        "response_format": {"type": "json_schema",
                            "json_schema": {"name": schema_name, "schema": schema, "strict": True}},
    }
    req = urllib.request.Request(url + "/v1/chat/completions", json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=300) as r:
        answer = json.load(r)
    return seed, schema_name, schema, answer


def main():
    glmv, model = sys.argv[1], sys.argv[2]
    for s in (POINT, INVOICE):
        jsonschema.Draft202012Validator.check_schema(s)
    proc, url = start_server(glmv, model)
    problems, contents = [], set()
    try:
        # 8 at once: 4 generate, 4 wait in the queue.
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            for seed, name, schema, a in pool.map(lambda s: ask(url, s), range(SAMPLES)):
                choice = a["choices"][0]
                content = choice["message"]["content"]
                where = f"seed {seed} ({name}): {content!r}"
                if choice["finish_reason"] != "stop":
                    problems.append(f"{where}: finish_reason {choice['finish_reason']}")
                    continue
                try:
                    value = json.loads(content)
                    jsonschema.validate(value, schema, cls=jsonschema.Draft202012Validator)
                except (json.JSONDecodeError, jsonschema.ValidationError) as e:
                    problems.append(f"{where}: {type(e).__name__}: {str(e).splitlines()[0]}")
                    continue
                contents.add(content)
                print(f"seed {seed:2d} {name:8s} {a['usage']['completion_tokens']:3d} tokens  {content}")
    finally:
        status = stop_server(proc)
    valid = SAMPLES - len(problems)
    if status != 0:
        problems.append(f"glmv serve ended with status {status}")
    if len(contents) < SAMPLES * 0.8:
        problems.append(f"only {len(contents)} distinct answers of {SAMPLES}: sampling does not reach the server?")
    for p in problems:
        print("FAIL", p)
    print(f"{valid} of {SAMPLES} answers end with stop, parse and validate")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
