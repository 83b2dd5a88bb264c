// A bounded load on one glmv serve through the official `openai` client: 8 concurrent clients × 10 requests,
// streamed and not, some with images, some streams aborted by the client after their first piece of content.
// It stops by itself (80 requests, each with a 120 s client timeout). Checks:
//  - no failed request (an aborted stream is the test's own doing, not a failure);
//  - no lost response: every request not aborted got a complete answer (a finish reason, usage, the stream's
//    end), and the server counts exactly as many finished and as many cancelled requests;
//  - every slot free at the end: /metrics says 0 active slots and 0 queued, within a few steps;
//  - memory: the idle server's RSS at the end ≤ its RSS after the first 10 requests + 64 MiB. Release builds only:
//    meson sets GLMV_SANITIZED=1 in sanitizer builds, whose quarantine grows RSS by design.
// The server runs --parallel 4 --max-queue 16: 8 clients never have more than 8 requests open, so a 429 cannot
// happen and counts as a failure.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';

import { GlmvServer, checkStopped, haveNodeModules, skipUnless, sleep } from './processes.mjs';

skipUnless([[haveNodeModules(), 'no tests/serve/node_modules: run `npm ci --prefix tests/serve`']]);
const { JPEG, PNG, chat, client } = await import('./client_cases.mjs');

const CLIENTS = 8;
const REQUESTS = 10;
const MiB = 1024 * 1024;
const sanitized = process.env.GLMV_SANITIZED === '1';

const server = await GlmvServer.start(['--parallel', '4', '--max-queue', '16']);
after(async () => {
  checkStopped(await server.stop(), 'glmv serve');
});

// Request r (0..79) of the plan: every 5th of each kind, so each client gets a mix.
//   0: not streamed, text     1: streamed, text      2: not streamed, an image
//   3: streamed, an image     4: streamed, aborted after its first content (its answer cannot end before)
function plan(r) {
  const kind = r % 5;
  const text = `Request ${r}: say something.`;
  const withImage = (url) => [{ type: 'image_url', image_url: { url } }, { type: 'text', text }];
  const req = chat(text, { temperature: 1, seed: r, max_tokens: 12 });
  if (kind === 2 || kind === 3) req.messages[0].content = withImage(r % 2 ? PNG : JPEG);
  if (kind === 1 || kind === 3) Object.assign(req, { stream: true, stream_options: { include_usage: true } });
  if (kind === 4) {
    // A string of at least 3000 characters: the model cannot end the answer by itself before the abort.
    Object.assign(req, {
      stream: true,
      max_tokens: 4000,
      response_format: { type: 'json_schema', json_schema: { name: 'long', schema: { type: 'string', minLength: 3000 } } },
    });
  }
  return { kind, req, abort: kind === 4 };
}

const stats = { ok: 0, aborted: 0, failures: [], done: 0, rssAfter10: null, kvAfter10: null };

async function runOne(openai, r) {
  const { req, abort } = plan(r);
  const what = `request ${r} (${req.stream ? 'streamed' : 'plain'}${Array.isArray(req.messages[0].content) ? ', image' : ''}${abort ? ', aborted' : ''})`;
  try {
    if (!req.stream) {
      const a = await openai.chat.completions.create(req);
      assert.equal(typeof a.choices[0].message.content, 'string');
      assert.ok(['stop', 'length'].includes(a.choices[0].finish_reason));
      assert.ok(a.usage.completion_tokens >= 1 && a.usage.completion_tokens <= req.max_tokens);
      stats.ok++;
    } else if (abort) {
      const controller = new AbortController();
      const stream = await openai.chat.completions.create(req, { signal: controller.signal });
      let sawContent = false;
      let finish = null;
      for await (const chunk of stream) {
        finish ??= chunk.choices[0]?.finish_reason ?? null;
        if (chunk.choices[0]?.delta?.content) {
          sawContent = true;
          controller.abort();  // hang up mid-stream: the client's loop then ends quietly
        }
      }
      assert.ok(sawContent && controller.signal.aborted, 'aborted after the first content');
      assert.equal(finish, null, 'the answer ended before the abort');
      stats.aborted++;
    } else {
      const stream = await openai.chat.completions.create(req);
      let finish = null;
      let usage = null;
      for await (const chunk of stream) {
        if (chunk.usage) usage = chunk.usage;
        if (chunk.choices[0]?.finish_reason) {
          assert.equal(finish, null, 'one finish reason');
          finish = chunk.choices[0].finish_reason;
        }
      }
      // The loop ended: the stream reached `data: [DONE]` (the client stops there; a cut stream throws).
      assert.ok(['stop', 'length'].includes(finish), `finish ${finish}`);
      assert.ok(usage && usage.completion_tokens >= 1 && usage.completion_tokens <= req.max_tokens);
      stats.ok++;
    }
  } catch (e) {
    stats.failures.push(`${what}: ${e.status ?? ''} ${e.message}`);
  }
  if (++stats.done === 10) {
    stats.rssAfter10 = server.rssBytes();
    stats.kvAfter10 = await server.metric('glmv_kv_bytes_in_use');
  }
}

test(`${CLIENTS} clients × ${REQUESTS} requests, mixed, with images and disconnects`, async () => {
  const started = Date.now();
  await Promise.all(Array.from({ length: CLIENTS }, async (_, c) => {
    const openai = client(server.url);  // one client (one connection pool) each
    for (let i = 0; i < REQUESTS; ++i) await runOne(openai, c * REQUESTS + i);
  }));
  console.log(`# ${stats.ok} answered, ${stats.aborted} aborted, ${stats.failures.length} failed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  assert.deepEqual(stats.failures, [], 'no failed request');
  const aborted = Array.from({ length: CLIENTS * REQUESTS }, (_, r) => plan(r).abort).filter(Boolean).length;
  assert.equal(stats.aborted, aborted);
  assert.equal(stats.ok, CLIENTS * REQUESTS - aborted, 'no lost response');

  // Every slot free: a disconnect frees its slot within a step, so this settles at once; 10 s at most.
  let active = -1;
  let queued = -1;
  for (const until = Date.now() + 10_000; Date.now() < until; await sleep(50)) {
    [active, queued] = [await server.metric('glmv_slots_active'), await server.metric('glmv_queue_depth')];
    if (active === 0 && queued === 0) break;
  }
  assert.equal(active, 0, 'active slots at the end');
  assert.equal(queued, 0, 'queued requests at the end');
  // The server's own count: each answered request finished, each aborted one was cancelled, none failed.
  assert.equal(await server.metric('glmv_requests_finished_total'), stats.ok);
  assert.equal(await server.metric('glmv_requests_cancelled_total'), stats.aborted);
  assert.equal(await server.metric('glmv_requests_failed_total'), 0);
  assert.equal(await server.metric('glmv_requests_total{path="/v1/chat/completions",status="429"}').catch(() => 0), 0);

  // And it still answers.
  const a = await client(server.url).chat.completions.create(chat('after the load'));
  assert.equal(typeof a.choices[0].message.content, 'string');

  // The idle server gives its heap's free pages back (apps/serve/scheduler.cc: 200 ms after the last step),
  // so RSS is read once that has had time to happen: the lowest of 5 s of samples.
  let rss = server.rssBytes();
  for (const until = Date.now() + 5_000; Date.now() < until && rss > stats.rssAfter10 + 64 * MiB; await sleep(100)) {
    rss = Math.min(rss, server.rssBytes());
  }
  const kv = await server.metric('glmv_kv_bytes_in_use');
  console.log(`# server RSS after 10 requests ${(stats.rssAfter10 / MiB).toFixed(1)} MiB (KV pages ${(stats.kvAfter10 / MiB).toFixed(1)} MiB), ` +
              `at the end, idle ${(rss / MiB).toFixed(1)} MiB (KV pages ${(kv / MiB).toFixed(1)} MiB, ` +
              `${await server.metric('glmv_prefix_cache_sequences')} answers kept for prefix reuse)`);
  if (sanitized) {
    console.log('# sanitizer build: the RSS bound is not checked (the quarantine grows RSS)');
  } else {
    assert.ok(rss <= stats.rssAfter10 + 64 * MiB, `RSS grew from ${stats.rssAfter10} to ${rss} bytes`);
  }
});
