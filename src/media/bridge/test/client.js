'use strict';
// Plays the silo's side of the pipe for the bridge's own tests and measurements: spawns index.js, frames JOIN/AUDIO_OUT/
// CLEAR/LEAVE, parses what comes back, and lets a test await a frame instead of sleeping.
const { spawn } = require('child_process');
const path = require('path');
const P = require('../protocol');

class BridgeClient {
  constructor(env = {}) {
    // BRIDGE_NODE_ARGS: extra node flags for the bridge alone (e.g. --cpu-prof), not for this process or the SFU
    const nodeArgs = (process.env.BRIDGE_NODE_ARGS || '').split(' ').filter(Boolean);
    this.child = spawn(process.execPath, [...nodeArgs, path.join(__dirname, '..', 'index.js')], {
      env: { ...process.env, NODE_ENV: 'production', BRIDGE_STATS_MS: '500', ...env }, stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.stderr = '';
    this.child.stderr.on('data', (d) => { this.stderr += d; if (process.env.BRIDGE_DEBUG) process.stderr.write(d); });
    this.waiters = [];
    this.listeners = [];
    this.stats = new Map(); // session -> last u64 list (as numbers)
    this.reader = new P.FrameReader((type, session, payload) => this.onFrame(type, session, Buffer.from(payload)), (n, why) => {
      throw new Error(`garbage from the bridge: ${n} bytes (${why})`);
    }, P.plausibleUp);
    this.child.stdout.on('data', (c) => this.reader.push(c));
    this.exited = new Promise((r) => this.child.on('exit', (code, signal) => r({ code, signal })));
  }

  onFrame(type, session, payload) {
    const f = { type, session, payload, at: performance.now() };
    if (type === P.Up.STATS) {
      const v = [];
      for (let i = 0; i + 8 <= payload.length; i += 8) v.push(Number(payload.readBigUInt64LE(i)));
      this.stats.set(session, v);
      f.values = v;
    } else if (type === P.Up.STATE) {
      f.state = payload.readUInt8(0);
      f.reason = payload.toString('utf8', 3, 3 + payload.readUInt16LE(1));
    } else if (type === P.Up.AUDIO_IN) {
      f.seq = payload.readUInt32LE(0);
      f.captureMicros = Number(payload.readBigInt64LE(4));
      f.samples = new Int16Array(payload.buffer.slice(payload.byteOffset + 12, payload.byteOffset + 12 + P.PCM_BYTES));
    } else if (type === P.Up.ERROR) {
      f.code = payload.readUInt16LE(0);
      f.message = payload.toString('utf8', 4, 4 + payload.readUInt16LE(2));
    } else if (type === P.Up.TRACK) {
      f.subscribed = payload.readUInt8(0) === 1;
      f.identity = payload.toString('utf8', 3, 3 + payload.readUInt16LE(1));
    }
    for (const l of this.listeners) l(f);
    for (const w of [...this.waiters]) if (w.match(f)) { this.waiters.splice(this.waiters.indexOf(w), 1); w.resolve(f); }
  }

  on(listener) { this.listeners.push(listener); }

  waitFor(match, what, timeoutMs = 20000) {
    return new Promise((resolve, reject) => {
      const w = { match, resolve };
      this.waiters.push(w);
      setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) { this.waiters.splice(i, 1); reject(new Error(`timed out waiting for ${what}; bridge stderr: ${this.stderr.slice(-1500)}`)); }
      }, timeoutMs).unref();
    });
  }

  write(buf) { if (!this.child.stdin.writableEnded) this.child.stdin.write(buf); }

  join(session, { url, token, identity, name, candidate = '', queueMs = 1000, autoSubscribe = false, timeoutMs = 20000 }) {
    const strings = [url, token, identity, name ?? `s${session}`, candidate].map((s) => Buffer.from(s, 'utf8'));
    let n = 3;
    for (const s of strings) n += 2 + s.length;
    const buf = P.frame(P.Down.JOIN, session, n);
    let o = P.HEADER;
    for (const s of strings) { buf.writeUInt16LE(s.length, o); s.copy(buf, o + 2); o += 2 + s.length; }
    buf.writeUInt16LE(queueMs, o);
    buf.writeUInt8(autoSubscribe ? 1 : 0, o + 2);
    this.write(buf);
    return this.waitFor((f) => f.type === P.Up.STATE && f.session === session && (f.state === P.State.CONNECTED || f.state === P.State.FAILED), `session ${session} to connect`, timeoutMs)
      .then((f) => { if (f.state === P.State.FAILED) throw new Error(f.reason); return f; });
  }

  audio(session, seq, samples /* Int16Array(480) */) {
    const buf = P.frame(P.Down.AUDIO_OUT, session, 4 + P.PCM_BYTES);
    buf.writeUInt32LE(seq >>> 0, P.HEADER);
    Buffer.from(samples.buffer, samples.byteOffset, P.PCM_BYTES).copy(buf, P.HEADER + 4);
    this.write(buf);
  }

  clear(session) { this.write(P.frame(P.Down.CLEAR, session, 0)); }
  leave(session) { this.write(P.frame(P.Down.LEAVE, session, 0)); }

  async stop() {
    this.child.stdin.end();
    const t = setTimeout(() => this.child.kill('SIGKILL'), 8000);
    const r = await this.exited;
    clearTimeout(t);
    return r;
  }
}

/** A real-time pacer: calls fn(i) for frame i at start + i × 20 ms (catching up, never drifting). */
function pace(fn, frames, periodMs = 20) {
  let stopped = false;
  const start = performance.now();
  const done = (async () => {
    for (let i = 0; frames === undefined || i < frames; i++) {
      if (stopped) return;
      const due = start + i * periodMs;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      fn(i);
    }
  })();
  return { stop: () => { stopped = true; }, done };
}

function tone(freq, amplitude, phase0 = 0) {
  const s = new Int16Array(P.SAMPLES);
  const step = (2 * Math.PI * freq) / 24000;
  for (let i = 0; i < P.SAMPLES; i++) s[i] = Math.round(Math.sin(phase0 + i * step) * amplitude);
  return s;
}

module.exports = { BridgeClient, pace, tone };
