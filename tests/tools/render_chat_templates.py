#!/usr/bin/env python3
"""Renders the real GLM chat templates in ../shared/ref with Jinja2, the way Hugging Face's
apply_chat_template does (trim_blocks, lstrip_blocks, tojson with ensure_ascii switchable), over one
conversation per template branch, and writes the results to tests/data/chat/<case>.<variant>.txt.

The C++ renderer (lib/chat_template.cc, no Jinja engine) is tested against these strings; each was also
read by hand (see tests/lib/chat_template_test.cc for what each case exercises).

Usage: /usr/bin/python3 tests/tools/render_chat_templates.py   (needs python3-jinja2)
"""
import json
import os

import jinja2
import jinja2.ext

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REF = os.path.join(REPO, "..", "shared", "ref", "glm-4.5v")
TEMPLATES = {
    "glm45v": os.path.join(REF, "glm-4.5v", "chat_template.xinference.jinja"),
    "glm45": os.path.join(REF, "glm-4.5", "chat_template.jinja"),
}
OUT = os.path.join(REPO, "tests", "data", "chat")


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    # transformers' chat-template tojson filter
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


# Xinference's copy of the GLM-4.5V template lost the blank lines of the original (its GLM-4.5 entry lost
# every newline; ref/glm-4.5v/SOURCES.md). GLM-4.5's template has these four; they are restored here so the
# tools preamble and list-form tool responses render as the model was trained.
BLANK_LINES_RESTORED = [
    ("# Tools\nYou may call", "# Tools\n\nYou may call"),
    ("user query.\nYou are provided", "user query.\n\nYou are provided"),
    ("</tools>\nFor each function call", "</tools>\n\nFor each function call"),
    ("<|observation|>{% for tr in m.content %}\n<tool_response>", "<|observation|>{% for tr in m.content %}\n\n<tool_response>"),
]


def load_template(variant, path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if variant == "glm45v":
        for old, new in BLANK_LINES_RESTORED:
            assert text.count(old) == 1, old
            text = text.replace(old, new)
    return text


def env():
    e = jinja2.Environment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    e.filters["tojson"] = tojson
    return e


WEATHER_TOOL = {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city, °C",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}

CASES = {
    "single_turn": dict(messages=[{"role": "user", "content": "Hello, who are you?"}]),
    "system_multi_turn": dict(messages=[
        {"role": "system", "content": "You are a careful assistant."},
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "reasoning_content": "Simple arithmetic.", "content": "4"},
        {"role": "user", "content": "And 3+3?"},
        {"role": "assistant", "content": "<think>\nAdd them.\n</think>\n\n6"},
        {"role": "user", "content": "Thanks!"},
    ]),
    "reasoning_after_last_user": dict(add_generation_prompt=False, messages=[
        {"role": "user", "content": "Think first."},
        {"role": "assistant", "reasoning_content": "  Kept because it follows the last user turn.  ", "content": "Done."},
    ]),
    "thinking_off": dict(enable_thinking=False, messages=[
        {"role": "user", "content": "Be quick."},
        {"role": "assistant", "content": "Sure."},
        {"role": "user", "content": "Already says /nothink"},
        {"role": "assistant", "content": "Ok."},
        {"role": "user", "content": "Once more"},
    ]),
    "one_image": dict(messages=[{"role": "user", "content": [
        {"type": "image"}, {"type": "text", "text": "What is in this picture?"}]}]),
    "two_images": dict(messages=[{"role": "user", "content": [
        {"type": "text", "text": "Compare"}, {"type": "image"}, {"type": "text", "text": "with"}, {"type": "image"},
        {"type": "text", "text": "please."}]}]),
    "video": dict(enable_thinking=False, messages=[{"role": "user", "content": [
        {"type": "video"}, {"type": "text", "text": "What happens?"}]}]),
    "tools": dict(tools=[WEATHER_TOOL], messages=[
        {"role": "user", "content": "Weather in Paris and Zürich?"},
        {"role": "assistant", "content": "Let me check.", "tool_calls": [
            {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
            {"function": {"name": "get_weather", "arguments": {"city": "Zürich", "days": 2, "units": ["C"]}}}]},
        {"role": "tool", "content": "{\"temp\": 21}"},
        {"role": "tool", "content": "{\"temp\": 17}"},
    ]),
    "tool_list_content": dict(messages=[
        {"role": "system", "content": [{"type": "text", "text": "Use tools."}]},
        {"role": "user", "content": "Look up two things."},
        {"role": "assistant", "content": "", "tool_calls": [
            {"name": "lookup", "arguments": {"q": "a", "exact": True, "limit": 2.5, "opts": {"x": None}}}]},
        {"role": "tool", "content": [{"output": "first"}, "second"]},
        {"role": "user", "content": [{"type": "text", "text": "Now "}, {"type": "text", "text": "summarise."}]},
    ]),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for variant, path in TEMPLATES.items():
        template = env().from_string(load_template(variant, path))
        for name, case in CASES.items():
            kwargs = {"add_generation_prompt": case.get("add_generation_prompt", True)}
            if "enable_thinking" in case:
                kwargs["enable_thinking"] = case["enable_thinking"]
            if "tools" in case:
                kwargs["tools"] = case["tools"]
            text = template.render(messages=case["messages"], **kwargs)
            with open(os.path.join(OUT, f"{name}.{variant}.txt"), "w", encoding="utf-8", newline="") as f:
                f.write(text)
    with open(os.path.join(OUT, "cases.json"), "w", encoding="utf-8") as f:
        json.dump(CASES, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
