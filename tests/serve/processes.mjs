// The processes of the Node tests: `glmv serve` replicas and haproxy on loopback, each started with a free
// port, ended by its PID (SIGTERM, then SIGKILL) when the test is done, pass or fail. Each child is started
// through `setpriv --pdeathsig KILL`, so that it also dies when the test process itself is killed (a meson
// timeout, a crash); signals the test can catch end the children first.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

// Set by tests/meson.build; the fallbacks are for running a test by hand from a build directory.
export const GLMV_BIN = process.env.GLMV_BIN ?? path.resolve('apps/glmv');
export const DATA_DIR = process.env.GLMV_TEST_DATA ?? path.join(here, '..', 'data');
export const TINY_MODEL = path.join(DATA_DIR, 'tiny-glm4v-moe');
export const SOURCE_ROOT = path.join(here, '..', '..');

// Exit 77 (meson's SKIP) with the reason, unless every named thing is there.
export function skipUnless(checks) {
  for (const [ok, why] of checks) {
    if (!ok) {
      console.log(`SKIP: ${why}`);
      process.exit(77);
    }
  }
}

// The openai package is there: `npm ci --prefix tests/serve` ran.
export function haveNodeModules() {
  return existsSync(path.join(here, 'node_modules', 'openai', 'package.json'));
}

const children = new Set();  // live child processes, killed if the test process goes away first
process.on('exit', () => {
  for (const c of children) {
    try { process.kill(c.pid, 'SIGKILL'); } catch { /* already gone */ }
  }
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => process.exit(128 + os.constants.signals[sig]));  // 'exit' above kills the children
}

const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));

function spawnChild(command, args, stdout) {
  const [cmd, argv] = setpriv ? [setpriv, ['--pdeathsig', 'KILL', '--', command, ...args]] : [command, args];
  const child = spawn(cmd, argv, { stdio: ['ignore', stdout, 'inherit'] });
  // Children do not keep the test alive: if it ends with them still running, 'exit' above kills them.
  child.unref();
  child.stdout?.unref();
  children.add(child);
  child.exited = new Promise((resolve) => child.on('exit', (code, signal) => {
    children.delete(child);
    resolve({ code, signal });
  }));
  return child;
}

// Ends `child` by PID: SIGTERM, up to 10 s for a clean stop, then SIGKILL. Returns {code, signal, alive}:
// `alive` says whether it was still running when asked to stop (false: it had died during the test).
async function stopChild(child, name) {
  if (!children.has(child)) return { ...(await child.exited), alive: false };
  child.ref();  // the test waits for this child's exit now
  try { process.kill(child.pid, 'SIGTERM'); } catch { /* already gone */ }
  const timer = setTimeout(() => {
    // glmv serve waits for its idle keep-alive connections (up to cpp-httplib's 30 s keep-alive timeout)
    // before it exits, and the openai client keeps its connections open.
    console.log(`# ${name} (pid ${child.pid}) still running 10 s after SIGTERM: SIGKILL`);
    try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ }
  }, 10_000);
  const how = await child.exited;
  clearTimeout(timer);
  return { ...how, alive: true };
}

// Fails unless a process stopped by stopChild was alive until asked and, when it exited by itself, did so
// cleanly (a crash, or an exit-time sanitizer report, fails the test); killed after the grace period is
// allowed (see stopChild).
export function checkStopped(how, name) {
  if (!how.alive) throw new Error(`${name} died during the test (${how.code ?? how.signal})`);
  if (how.signal === 'SIGKILL') return;
  if (how.signal === 'SIGTERM' && name === 'haproxy') return;  // its documented hard stop
  if (how.code !== 0) throw new Error(`${name} ended with ${how.code ?? how.signal} after SIGTERM`);
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Polls `url` until it answers 200 (or `ms` pass).
async function waitFor200(url, ms) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    try {
      const r = await fetch(url);
      if (r.status === 200) return true;
    } catch { /* not listening yet */ }
    await sleep(100);
  }
  return false;
}

// A `glmv serve --port 0` process on 127.0.0.1 with the tiny model (and `args`), ready when returned: it has
// printed its port and /health answers 200.
export class GlmvServer {
  static async start(args = []) {
    const s = new GlmvServer();
    s.child = spawnChild(GLMV_BIN, ['serve', '--port', '0', '--host', '127.0.0.1', '-m', TINY_MODEL, ...args], 'pipe');
    s.pid = s.child.pid;
    // The first line names the port: "glmv serve: listening on http://127.0.0.1:PORT". Later output is read
    // and dropped, so the server never blocks on (or dies of) a pipe nobody reads.
    let timer;
    const first = await new Promise((resolve, reject) => {
      // Also what keeps the test process alive meanwhile (the child and its pipe do not).
      timer = setTimeout(() => reject(new Error('glmv serve printed no line in 60 s')), 60_000);
      let buf = '';
      s.child.stdout.setEncoding('utf8');
      s.child.stdout.on('data', (d) => {
        if (buf === null) return;
        buf += d;
        const nl = buf.indexOf('\n');
        if (nl >= 0) {
          resolve(buf.slice(0, nl));
          buf = null;
        }
      });
      s.child.exited.then(({ code, signal }) => reject(new Error(`glmv serve exited (${code ?? signal}) before naming its port`)));
    }).finally(() => clearTimeout(timer));
    const m = /:(\d+)\s*$/.exec(first);
    if (!m) throw new Error(`glmv serve's first line names no port: ${first}`);
    s.port = Number(m[1]);
    s.url = `http://127.0.0.1:${s.port}`;
    if (!(await waitFor200(`${s.url}/health`, 60_000))) throw new Error('glmv serve: /health never answered 200');
    return s;
  }

  async stop() { return stopChild(this.child, `glmv serve ${this.url}`); }

  // The value of a metric line `name value` (or `name{labels} value` when `name` includes the labels).
  async metric(name) {
    const text = await (await fetch(`${this.url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    if (line === undefined) throw new Error(`no metric ${name}`);
    return Number(line.slice(name.length + 1));
  }

  // The server's resident memory in bytes (VmRSS from /proc).
  rssBytes() {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'));
    return Number(m[1]) * 1024;
  }
}

// A free TCP port on 127.0.0.1 (bound, read, released; haproxy takes it a moment later).
export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export const HAPROXY = ['/usr/sbin/haproxy', '/usr/bin/haproxy'].find((p) => existsSync(p));
export const HAPROXY_CFG = path.join(SOURCE_ROOT, 'apps', 'serve', 'deploy', 'haproxy.cfg');

// The shipped apps/serve/deploy/haproxy.cfg with the test's addresses: the frontend's `bind` on `port`, the
// example `server` lines replaced by one per backend URL, a stats socket added to `global` so the test can see
// what haproxy thinks of each replica. Everything else (balance, checks, timeouts) is used as shipped.
export function haproxyConfig(port, backends, statsSocket) {
  const out = [];
  let serversWritten = false;
  for (const line of readFileSync(HAPROXY_CFG, 'utf8').split('\n')) {
    if (/^\s*bind\s/.test(line)) {
      out.push(`    bind 127.0.0.1:${port}`);
    } else if (/^\s*server\s/.test(line)) {
      if (!serversWritten) {
        backends.forEach((b, i) => out.push(`    server glmv${i + 1} ${new URL(b).host}`));
        serversWritten = true;
      }
    } else {
      out.push(line);
      if (/^global\b/.test(line)) out.push(`    stats socket ${statsSocket} mode 600 level admin`);
    }
  }
  if (!serversWritten) throw new Error(`${HAPROXY_CFG} has no server line to replace`);
  return out.join('\n');
}

// One command on haproxy's stats socket; its answer.
export function haproxyCommand(socketPath, command) {
  return new Promise((resolve, reject) => {
    let answer = '';
    const c = net.createConnection(socketPath, () => c.end(`${command}\n`));
    c.setEncoding('utf8');
    c.on('data', (d) => { answer += d; });
    c.on('end', () => resolve(answer));
    c.on('error', reject);
  });
}

// haproxy -db (foreground) with `configText`, on loopback.
export class Haproxy {
  static start(configText, configPath, port) {
    writeFileSync(configPath, configText);
    const h = new Haproxy();
    h.child = spawnChild(HAPROXY, ['-db', '-f', configPath], 'inherit');
    h.url = `http://127.0.0.1:${port}`;
    return h;
  }

  async stop() { return stopChild(this.child, 'haproxy'); }
}
