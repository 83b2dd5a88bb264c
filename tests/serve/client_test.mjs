// glmv serve driven by the official `openai` npm client (tests/serve/package.json pins it), as a meson test.
//   node client_test.mjs             one replica: the client cases, and the prompt cache (cached_tokens, one
//                                    vision encode), which only a single replica can promise
//   node client_test.mjs --haproxy   two replicas behind haproxy with apps/serve/deploy/haproxy.cfg: the same
//                                    client cases through it, both replicas used, one stopped and still served
// Exit 77 (SKIP) without node_modules (`npm ci --prefix tests/serve`) or, for --haproxy, without haproxy.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';

import {
  GlmvServer, HAPROXY, Haproxy, checkStopped, freePort, haproxyCommand, haproxyConfig, haveNodeModules, skipUnless, sleep,
} from './processes.mjs';

const viaHaproxy = process.argv.includes('--haproxy');
skipUnless([
  [haveNodeModules(), 'no tests/serve/node_modules: run `npm ci --prefix tests/serve`'],
  [!viaHaproxy || HAPROXY, 'no haproxy (Debian package haproxy)'],
]);
// Imported once the skip checks passed: it imports the openai package.
const { JPEG, chat, client, clientCases } = await import('./client_cases.mjs');

// Every process started, stopped by PID when the tests are done, pass or fail: haproxy first, then the
// replicas together (each may take the 10 s grace period, see processes.mjs).
const started = [];
after(async () => {
  const name = (p) => (p instanceof GlmvServer ? `glmv serve (pid ${p.pid})` : 'haproxy');
  const lbs = started.filter((x) => !(x instanceof GlmvServer));
  const servers = started.filter((x) => x instanceof GlmvServer);
  const hows = [];
  for (const p of lbs) hows.push([await p.stop(), name(p)]);
  (await Promise.all(servers.map((p) => p.stop()))).forEach((how, i) => hows.push([how, name(servers[i])]));
  // Then the checks: one that died during the tests, or failed at a clean exit (a sanitizer report), fails them.
  for (const [how, n] of hows) checkStopped(how, n);
});

if (!viaHaproxy) {
  const server = await GlmvServer.start(['--parallel', '2']);
  started.push(server);
  describe(`one replica (${server.url})`, () => {
    clientCases(server.url);

    test('prompt cache: the same image again reports cached_tokens past the image and encodes it once', async () => {
      const openai = client(server.url);
      // Images run through the vision tower, from /metrics.
      const encoded = async () => server.metric('glmv_vision_images_encoded_total');
      // Text no other case sends before the image, so the first request cannot reuse another's image tokens.
      const text = `Which colours? ${Date.now()}`;
      const req = chat('', { messages: [{ role: 'user', content: [{ type: 'text', text }, { type: 'image_url', image_url: { url: JPEG } }] }] });
      const before = await encoded();
      const first = await openai.chat.completions.create(req);
      const again = await openai.chat.completions.create(req);
      const after = await encoded();
      const textOnly = await openai.chat.completions.create(chat(text));
      const prompt = first.usage.prompt_tokens;
      const imageTokens = prompt - textOnly.usage.prompt_tokens;
      const cached = again.usage.prompt_tokens_details.cached_tokens;
      console.log(`# prompt ${prompt} tokens (image ${imageTokens}), cached on the repeat ${cached}`);
      assert.ok(imageTokens > 4, `image tokens ${imageTokens}`);
      // Everything up to the image's last token is reused (all but the prompt's last few tokens).
      assert.ok(cached >= prompt - 16, `cached ${cached} of ${prompt}`);
      assert.equal(again.choices[0].message.content, first.choices[0].message.content);
      assert.equal(after - before, 1, 'two requests with the same image: one vision encode');
    });
  });
} else {
  const [a, b] = [await GlmvServer.start(['--parallel', '2']), await GlmvServer.start(['--parallel', '2'])];
  started.push(a, b);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'glmv-haproxy-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const socket = path.join(dir, 'stats.sock');
  const port = await freePort();
  const lb = Haproxy.start(haproxyConfig(port, [a.url, b.url], socket), path.join(dir, 'haproxy.cfg'), port);
  started.push(lb);

  // What haproxy thinks of each replica: {glmv1: {status, check}, ...} from `show stat` (CSV).
  const states = async () => {
    const csv = (await haproxyCommand(socket, 'show stat')).split('\n');
    const head = csv[0].replace(/^# /, '').split(',');
    const out = {};
    for (const row of csv.slice(1)) {
      const f = row.split(',');
      if (f[0] !== 'glmv_replicas' || !f[1].startsWith('glmv')) continue;
      out[f[1]] = { status: f[head.indexOf('status')], check: f[head.indexOf('check_status')] };
    }
    return out;
  };
  // Both replicas up by a passed health check (haproxy counts a server up until a check says otherwise).
  const until = Date.now() + 30_000;
  let seen = {};
  for (;;) {
    try { seen = await states(); } catch { /* the socket is not there yet */ }
    if (['glmv1', 'glmv2'].every((s) => seen[s]?.status === 'UP' && seen[s]?.check === 'L7OK')) break;
    if (Date.now() > until) throw new Error(`haproxy does not see both replicas up: ${JSON.stringify(seen)}`);
    await sleep(100);
  }

  describe(`two replicas behind haproxy (${lb.url})`, () => {
    clientCases(lb.url);

    test('leastconn spread the requests: both replicas answered', async () => {
      const answered = async (s) => s.metric('glmv_requests_total{path="/v1/chat/completions",status="200"}');
      const [na, nb] = [await answered(a), await answered(b)];
      console.log(`# chat requests answered: replica 1 ${na}, replica 2 ${nb}`);
      assert.ok(na > 0 && nb > 0);
    });

    test('a replica stopping: every request meanwhile is served, and haproxy marks it down', async () => {
      started.splice(started.indexOf(b), 1);
      const stopping = b.stop();  // SIGTERM: replica 2 closes its port at once, then ends
      const openai = client(lb.url);
      const deadline = Date.now() + 15_000;
      let served = 0;
      let down = false;
      // Requests one after another through the whole stop, until haproxy has marked replica 2 down.
      while (!down) {
        assert.ok(Date.now() < deadline, `glmv2 still ${JSON.stringify(await states())}`);
        const r = await openai.chat.completions.create(chat(`still there? ${served}`));
        assert.equal(typeof r.choices[0].message.content, 'string');
        served++;
        down = (await states()).glmv2?.status === 'DOWN';
      }
      assert.equal((await states()).glmv1.status, 'UP');
      checkStopped(await stopping, 'replica 2');
      console.log(`# ${served} requests served while replica 2 went down`);
    });
  });
}
