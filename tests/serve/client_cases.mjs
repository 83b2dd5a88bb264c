// What the official `openai` client does against glmv serve, as node:test cases on any base URL (one replica,
// or haproxy in front of two): models.list, chat.completions.create plain and streamed, the client's own
// stream helper, images as data: URLs, the thinking switch, chat.completions.parse with a JSON schema, and a
// tool call round trip, streamed too. The tiny model's weights are random: the cases check shapes and what
// the server guarantees (a schema, a forced tool call), never what the model says.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import OpenAI from 'openai';

import { DATA_DIR } from './processes.mjs';

export const MODEL = 'tiny-glm4v-moe';

export function client(baseURL) {
  // maxRetries 0: a failed request fails the test instead of being hidden by the client's retries.
  return new OpenAI({ baseURL: `${baseURL}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 120_000 });
}

export function dataUrl(file, mime) {
  return `data:${mime};base64,${readFileSync(path.join(DATA_DIR, 'images', file)).toString('base64')}`;
}
export const PNG = dataUrl('basn6a08.png', 'image/png');  // 32×32 RGBA
export const JPEG = dataUrl('go-video-001.q50.420.jpeg', 'image/jpeg');

// Greedy, short, thinking off: the same request gives the same answer.
export function chat(text, extra = {}) {
  return {
    model: MODEL,
    messages: [{ role: 'user', content: text }],
    max_tokens: 8,
    temperature: 0,
    chat_template_kwargs: { enable_thinking: false },  // an extra body field: the client sends it as given
    ...extra,
  };
}

// A schema whose every value is bounded (the tiny model's vocabulary is byte-level: a free string could run
// for hundreds of tokens): const, enum, integer, boolean, a ^[a-z]{1,8}$ string, an array of at most 3 items.
// Strict in OpenAI's sense: every property required, no others.
export const POINT_SCHEMA = {
  type: 'object',
  properties: {
    kind: { const: 'point' },
    color: { type: 'string', enum: ['red', 'green', 'blue'] },
    count: { type: 'integer' },
    ok: { type: 'boolean' },
    name: { type: 'string', pattern: '^[a-z]{1,8}$' },
    tags: { type: 'array', items: { type: 'string', enum: ['a', 'b', 'c'] }, maxItems: 3 },
  },
  required: ['kind', 'color', 'count', 'ok', 'name', 'tags'],
  additionalProperties: false,
};

// What in `v` breaks POINT_SCHEMA (checked by hand here; tests/serve/constrained_test.py uses jsonschema).
export function pointProblems(v) {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not an object';
  const keys = Object.keys(v).sort().join(',');
  if (keys !== 'color,count,kind,name,ok,tags') return `properties ${keys}`;
  if (v.kind !== 'point') return 'kind';
  if (!['red', 'green', 'blue'].includes(v.color)) return 'color';
  if (!Number.isInteger(v.count)) return 'count';
  if (typeof v.ok !== 'boolean') return 'ok';
  if (typeof v.name !== 'string' || !/^[a-z]{1,8}$/.test(v.name)) return 'name';
  if (!Array.isArray(v.tags) || v.tags.length > 3 || !v.tags.every((t) => ['a', 'b', 'c'].includes(t))) return 'tags';
  return '';
}

const WEATHER_TOOL = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The weather in a city',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string', enum: ['Paris', 'Oslo', 'Lima'] }, celsius: { type: 'boolean' } },
      required: ['city', 'celsius'],
      additionalProperties: false,
    },
    strict: true,
  },
};
const FORCE_WEATHER = { type: 'function', function: { name: 'get_weather' } };

function checkWeatherArguments(args) {
  assert.ok(['Paris', 'Oslo', 'Lima'].includes(args.city), `city ${JSON.stringify(args)}`);
  assert.equal(typeof args.celsius, 'boolean', JSON.stringify(args));
  assert.deepEqual(Object.keys(args).sort(), ['celsius', 'city']);
}

function checkUsage(usage, maxCompletion) {
  assert.ok(usage, 'usage is there');
  assert.ok(Number.isInteger(usage.prompt_tokens) && usage.prompt_tokens > 0, `prompt_tokens ${usage.prompt_tokens}`);
  assert.ok(usage.completion_tokens >= 1 && usage.completion_tokens <= maxCompletion, `completion_tokens ${usage.completion_tokens}`);
  assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);
  assert.ok(Number.isInteger(usage.prompt_tokens_details?.cached_tokens), 'prompt_tokens_details.cached_tokens');
}

// Reads a raw stream (chat.completions.create with stream: true) to its end: the concatenated content and
// reasoning, the finish reason, the usage chunk, the ids seen.
export async function readStream(stream) {
  const got = { content: '', reasoning: '', finish: [], usage: null, ids: new Set(), chunks: 0, roleFirst: false };
  for await (const chunk of stream) {
    assert.equal(chunk.object, 'chat.completion.chunk');
    got.ids.add(chunk.id);
    if (chunk.usage) got.usage = chunk.usage;
    if (chunk.choices.length === 0) continue;  // the usage chunk
    const [c] = chunk.choices;
    if (got.chunks++ === 0) got.roleFirst = c.delta.role === 'assistant';
    if (typeof c.delta.content === 'string') got.content += c.delta.content;
    if (typeof c.delta.reasoning_content === 'string') got.reasoning += c.delta.reasoning_content;
    if (c.finish_reason) got.finish.push(c.finish_reason);
  }
  return got;
}

// The cases, as node:test tests on `baseURL`.
export function clientCases(baseURL) {
  const openai = client(baseURL);

  test('models.list names the model', async () => {
    const ids = [];
    for await (const m of openai.models.list()) {
      assert.equal(m.object, 'model');
      ids.push(m.id);
    }
    assert.deepEqual(ids, [MODEL]);
  });

  test('chat.completions.create: an answer in OpenAI\'s shape, then the same answer streamed', async () => {
    const a = await openai.chat.completions.create(chat('Hello there'));
    assert.match(a.id, /^chatcmpl-/);
    assert.equal(a.object, 'chat.completion');
    assert.equal(a.model, MODEL);
    assert.ok(Number.isInteger(a.created));
    assert.equal(a.choices.length, 1);
    const [choice] = a.choices;
    assert.equal(choice.index, 0);
    assert.equal(choice.message.role, 'assistant');
    assert.equal(typeof choice.message.content, 'string');
    assert.ok(['stop', 'length'].includes(choice.finish_reason), choice.finish_reason);
    checkUsage(a.usage, 8);

    const s = await readStream(await openai.chat.completions.create(
      chat('Hello there', { stream: true, stream_options: { include_usage: true } })));
    assert.ok(s.roleFirst, 'the first chunk carries the role');
    assert.equal(s.ids.size, 1, 'one id for every chunk');
    assert.match([...s.ids][0], /^chatcmpl-/);
    assert.deepEqual(s.finish, [choice.finish_reason], 'one finish reason, the same');
    assert.equal(s.content, choice.message.content, 'the deltas add up to the answer');
    checkUsage(s.usage, 8);
    assert.equal(s.usage.completion_tokens, a.usage.completion_tokens);
  });

  test('the client\'s stream helper accumulates the same answer (max_completion_tokens)', async () => {
    const a = await openai.chat.completions.create(chat('Count to three', { max_tokens: undefined, max_completion_tokens: 10 }));
    const runner = openai.chat.completions.stream(chat('Count to three', { max_tokens: undefined, max_completion_tokens: 10 }));
    let pieces = '';
    runner.on('content', (delta) => { pieces += delta; });
    const final = await runner.finalChatCompletion();
    assert.equal(final.choices[0].message.content, a.choices[0].message.content);
    assert.equal(pieces, a.choices[0].message.content);
    assert.equal(final.choices[0].finish_reason, a.choices[0].finish_reason);
    assert.ok(a.usage.completion_tokens <= 10);
  });

  test('images as data: URLs (PNG and JPEG) count in the prompt', async () => {
    const text = await openai.chat.completions.create(chat('What is in the pictures?'));
    const withImages = await openai.chat.completions.create(chat('', {
      messages: [{
        role: 'user',
        content: [
          { type: 'image_url', image_url: { url: PNG, detail: 'low' } },
          { type: 'image_url', image_url: { url: JPEG } },
          { type: 'text', text: 'What is in the pictures?' },
        ],
      }],
    }));
    assert.equal(typeof withImages.choices[0].message.content, 'string');
    checkUsage(withImages.usage, 8);
    assert.ok(withImages.usage.prompt_tokens > text.usage.prompt_tokens + 4,
      `${withImages.usage.prompt_tokens} prompt tokens with two images, ${text.usage.prompt_tokens} without`);
    // Streamed, with an image: the same answer.
    const s = await readStream(await openai.chat.completions.create({
      ...chat('', { stream: true }),
      messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: JPEG } }, { type: 'text', text: 'Describe it.' }] }],
    }));
    assert.equal(s.finish.length, 1);
    assert.equal(s.usage, null, 'no usage chunk unless asked for');
  });

  test('the thinking switch: chat_template_kwargs.enable_thinking reaches the template', async () => {
    const off = await openai.chat.completions.create(chat('Why is the sky blue?'));
    const on = await openai.chat.completions.create(chat('Why is the sky blue?', {
      max_tokens: 24, chat_template_kwargs: { enable_thinking: true },
    }));
    // Thinking off adds "/nothink" to the turn and an empty <think></think> to the answer's start.
    assert.ok(off.usage.prompt_tokens > on.usage.prompt_tokens, `${off.usage.prompt_tokens} vs ${on.usage.prompt_tokens}`);
    assert.equal(off.choices[0].message.reasoning_content ?? '', '', 'no reasoning with thinking off');
    const m = on.choices[0].message;
    if (m.reasoning_content !== undefined) {  // a random model may or may not open a <think> block
      assert.equal(typeof m.reasoning_content, 'string');
      assert.equal(m.reasoning, m.reasoning_content, 'also sent as `reasoning` (vLLM\'s newer name)');
    }
    const s = await readStream(await openai.chat.completions.create(chat('Why is the sky blue?', {
      max_tokens: 24, chat_template_kwargs: { enable_thinking: true }, stream: true,
    })));
    assert.equal(s.content, m.content ?? '');
    assert.equal(s.reasoning, m.reasoning_content ?? '');
  });

  test('chat.completions.parse: response_format json_schema (strict), parsed by the client', async () => {
    const answers = new Set();
    for (const seed of [1, 2, 3]) {
      const r = await openai.chat.completions.parse(chat('Describe the point as JSON', {
        temperature: 1,
        seed,
        max_tokens: 400,
        response_format: { type: 'json_schema', json_schema: { name: 'point', schema: POINT_SCHEMA, strict: true } },
      }));
      const [choice] = r.choices;
      assert.equal(choice.finish_reason, 'stop');
      assert.equal(pointProblems(choice.message.parsed), '', choice.message.content);
      assert.deepEqual(choice.message.parsed, JSON.parse(choice.message.content));
      answers.add(choice.message.content);
    }
    assert.ok(answers.size >= 2, 'sampled, not one fixed answer');
  });

  test('a schema outside the supported subset: the client raises BadRequestError with the server\'s message', async () => {
    await assert.rejects(
      openai.chat.completions.create(chat('hi', {
        response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'string', format: 'date' } } },
      })),
      (e) => e instanceof OpenAI.BadRequestError && e.status === 400 && /format/.test(e.error?.message ?? ''),
    );
  });

  test('a forced tool call (tool_choice names the function) and its round trip', async () => {
    const question = { role: 'user', content: 'What is the weather in Oslo?' };
    const first = await openai.chat.completions.parse(chat('', {
      messages: [question],
      temperature: 1,
      seed: 7,
      max_tokens: 200,
      tools: [WEATHER_TOOL],
      tool_choice: FORCE_WEATHER,
    }));
    const [choice] = first.choices;
    assert.equal(choice.finish_reason, 'tool_calls');
    const calls = choice.message.tool_calls;
    assert.equal(calls?.length, 1, JSON.stringify(choice.message));
    const [call] = calls;
    assert.equal(call.type, 'function');
    assert.equal(call.function.name, 'get_weather');
    assert.equal(typeof call.id, 'string');
    assert.ok(call.id.length > 0);
    checkWeatherArguments(JSON.parse(call.function.arguments));
    checkWeatherArguments(call.function.parsed_arguments);  // strict tool: the client parsed it

    // The tool's result goes back with the call's id; the model answers in text.
    const second = await openai.chat.completions.create(chat('', {
      messages: [
        question,
        { role: 'assistant', content: null, tool_calls: [{ id: call.id, type: 'function', function: call.function }] },
        { role: 'tool', tool_call_id: call.id, content: JSON.stringify({ celsius: -3, sky: 'snow' }) },
      ],
      max_tokens: 12,
      tools: [WEATHER_TOOL],
      tool_choice: 'none',
    }));
    assert.ok(['stop', 'length'].includes(second.choices[0].finish_reason), second.choices[0].finish_reason);
    assert.equal(typeof second.choices[0].message.content, 'string');
    assert.ok(!(second.choices[0].message.tool_calls?.length), 'tool_choice none: no call');
    // The call and the tool's answer are in the second turn's prompt: longer than the question alone.
    const alone = await openai.chat.completions.create(chat('', { messages: [question], max_tokens: 1, tools: [WEATHER_TOOL], tool_choice: 'none' }));
    assert.ok(second.usage.prompt_tokens > alone.usage.prompt_tokens + 10, `${second.usage.prompt_tokens} vs ${alone.usage.prompt_tokens}`);
  });

  test('a forced tool call streamed: the client\'s stream helper assembles tool_calls', async () => {
    const runner = openai.chat.completions.stream(chat('', {
      messages: [{ role: 'user', content: 'Weather in Lima, please.' }],
      temperature: 1,
      seed: 11,
      max_tokens: 200,
      tools: [WEATHER_TOOL],
      tool_choice: FORCE_WEATHER,
    }));
    let argumentsDone = null;
    runner.on('tool_calls.function.arguments.done', (e) => { argumentsDone = e; });
    const final = await runner.finalChatCompletion();
    const [choice] = final.choices;
    assert.equal(choice.finish_reason, 'tool_calls');
    assert.equal(choice.message.tool_calls?.length, 1, JSON.stringify(choice.message));
    const [call] = choice.message.tool_calls;
    assert.equal(call.function.name, 'get_weather');
    checkWeatherArguments(JSON.parse(call.function.arguments));
    assert.ok(argumentsDone, 'the helper saw the arguments end');
    assert.equal(argumentsDone.name, 'get_weather');
    checkWeatherArguments(argumentsDone.parsed_arguments);
  });
}
