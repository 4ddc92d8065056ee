'use strict';
// Test harness: starts the stand-in SFU as a child (as the C# host does), mints tokens with livekit-server-sdk's
// AccessToken, and waits for conditions instead of sleeping.
const { spawn } = require('child_process');
const path = require('path');
const crypto = require('crypto');
const readline = require('readline');
const { AccessToken } = require('livekit-server-sdk');

const SFU_MAIN = path.join(__dirname, '..', 'index.js');

/** Resolves when `predicate()` is truthy; rejects with `what` after `timeoutMs`. */
async function until(predicate, what, timeoutMs = 15_000, stepMs = 25) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await predicate();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

class SfuProcess {
  constructor(args = []) {
    this.apiKey = 'APIsfutest';
    this.apiSecret = crypto.randomBytes(24).toString('base64url');
    this.events = [];
    this.stdout = '';
    this.stderr = '';
    this.tokens = [];
    this.waiters = [];
    this.nextId = 1;
    this.child = spawn(process.execPath, [SFU_MAIN, '--port', '0', '--stats-interval-ms', '500', ...(process.env.SFU_DEBUG ? ['--debug'] : []), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr.on('data', (d) => {
      this.stderr += d;
      if (process.env.SFU_DEBUG) process.stderr.write(d);
    });
    readline.createInterface({ input: this.child.stdout }).on('line', (line) => {
      this.stdout += line + '\n';
      let ev;
      try {
        ev = JSON.parse(line);
      } catch {
        ev = { ev: 'not_json', line };
      }
      this.events.push(ev);
      for (const w of [...this.waiters]) if (w.match(ev)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(ev);
      }
    });
    this.exited = new Promise((r) => this.child.on('exit', (code, signal) => r({ code, signal })));
  }

  async start() {
    this.send({ op: 'keys', keys: { [this.apiKey]: this.apiSecret } });
    const ev = await this.waitFor((e) => e.ev === 'listening', 'the SFU to listen');
    this.url = ev.url;
    this.httpUrl = ev.url.replace(/^ws/, 'http');
    return this;
  }

  send(msg) {
    this.child.stdin.write(JSON.stringify(msg) + '\n');
  }

  /** Sends an op and resolves with its ack. */
  control(msg) {
    const id = this.nextId++;
    const ack = this.waitFor((e) => e.ev === 'ack' && e.id === id, `ack of ${msg.op}`);
    this.send({ ...msg, id });
    return ack;
  }

  waitFor(match, what, timeoutMs = 15_000) {
    const seen = this.events.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const w = { match, resolve };
      this.waiters.push(w);
      setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) {
          this.waiters.splice(i, 1);
          reject(new Error(`timed out waiting for ${what}; stderr: ${this.stderr.slice(-2000)}`));
        }
      }, timeoutMs).unref();
    });
  }

  async lastStats() {
    const n = this.events.filter((e) => e.ev === 'stats').length;
    return this.waitFor((e) => e.ev === 'stats' && this.events.filter((x) => x.ev === 'stats').indexOf(e) >= n, 'fresh stats');
  }

  async stop() {
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    const r = await this.exited;
    clearTimeout(timer);
    return r;
  }

  token(identity, room, { kind, hidden, ttl = '10m', name, key = this.apiKey, secret = this.apiSecret, roomJoin = true } = {}) {
    const at = new AccessToken(key, secret, { identity, name: name ?? identity, ttl });
    if (kind) at.kind = kind;
    at.addGrant({ roomJoin, room, hidden: hidden === true, canPublish: true, canSubscribe: true });
    return at.toJwt().then((jwt) => {
      this.tokens.push(jwt);
      return jwt;
    });
  }

  /** Neither a token nor the secret ever appears in what the SFU printed. */
  assertNoSecretsPrinted() {
    for (const secret of [this.apiSecret, ...this.tokens]) {
      const sig = secret.split('.').pop();
      if (this.stderr.includes(sig) || this.stdout.includes(sig)) throw new Error('the SFU printed a token or the API secret');
    }
  }
}

/** A token signed by hand, for cases AccessToken will not produce (already expired). */
function rawToken(claims, secret) {
  const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const body = enc({ alg: 'HS256' }) + '.' + enc(claims);
  return body + '.' + crypto.createHmac('sha256', secret).update(body).digest('base64url');
}

/** Goertzel power of `freq` in `samples` (Int16), normalised per sample. */
function tonePower(samples, freq, rate = 24000) {
  const k = 2 * Math.cos((2 * Math.PI * freq) / rate);
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < samples.length; i++) {
    const s0 = samples[i] / 32768 + k * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return (s1 * s1 + s2 * s2 - k * s1 * s2) / (samples.length * samples.length);
}

function rms(samples) {
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum += samples[i] * samples[i];
  return Math.sqrt(sum / Math.max(1, samples.length));
}

module.exports = { SfuProcess, until, rawToken, tonePower, rms };
