#!/usr/bin/env node
'use strict';
/*
 * The load tester's candidates on the official @livekit/rtc-node: one process drives many rooms, so the driver stays cheap.
 * Each candidate joins livekit.url with the candidateToken of its create response, publishes a microphone track carrying
 * speech-like bursts and pauses (24 kHz mono, 20 ms frames at real time) and listens to the agent. Per answer it reports the
 * voice-to-voice latency at its own transport: end of its speech as handed to its AudioSource (plus what that source still
 * held) → the first loud 20 ms frame of agent audio its AudioStream yields.
 *
 * Usage: node src/media/tools/candidate-driver.js (spawned by tests/LoadTest, `--transport livekit`). Stdin, one JSON line each:
 *   {"op":"join","id":ID,"url":URL,"token":T,"speechMs":2000,"silenceMs":4000,"offsetMs":0}   (the token only ever on stdin)
 *   {"op":"leave","id":ID}
 * Stdout, one JSON line each: {"ev":"ready"} · {"ev":"joined","id","ms"} · {"ev":"agent","id","ms"} (agent's track subscribed,
 *   ms since the join began) · {"ev":"failed","id","message"} ·
 *   {"ev":"turn","id","v2vMs","heardFrames"} · {"ev":"unanswered","id"} · {"ev":"left","id"} ·
 *   {"ev":"subscribed","id","identity","participantSid","trackSid"} (each remote audio track it listens to; a re-joined agent's
 *   new track replaces the old one) · {"ev":"voice","id","participantSid","startMs","endMs"} (one run of loud agent audio,
 *   wall-clock ms, reported when 200 ms of quiet end it) · {"ev":"reconnecting"|"reconnected","id"} ·
 *   {"ev":"stats", sessions, framesSent, framesLate, captureErrors, framesHeard, rss, cpuUserUs, cpuSystemUs} every second.
 * Exits when stdin closes. Logs go to stderr; tokens are never logged.
 */
const readline = require('readline');
const {
  Room, RoomEvent, AudioSource, AudioStream, AudioFrame, LocalAudioTrack, TrackPublishOptions, TrackSource, TrackKind, dispose,
} = require('@livekit/rtc-node');

const RATE = 24000;
const SAMPLES = 480; // 20 ms
const FRAME_MS = 20;
const SOURCE_QUEUE_MS = 1000; // the bridge's measured setting: no slower than 50 ms at an utterance's start (BENCHMARKS.md)
const MAX_AHEAD_MS = 60; // a source holding more than this is behind real time: the frame is skipped (counted late), not queued
const LOUD = 300; // mean |sample| of a 20 ms frame that counts as agent speech (the simulated voice averages ~2000)
const QUIET_FRAMES_END = 10; // 200 ms under LOUD ends an answer

// stdout is the protocol: rtc-node's own logger (pino, on stdout) and stray prints go to stderr instead
const wire = process.stdout;
Object.defineProperty(process, 'stdout', { configurable: true, enumerable: true, get: () => process.stderr });
console.log = console.info = console.debug = console.error;
const out = (o) => wire.write(JSON.stringify(o) + '\n');
const log = (m) => process.stderr.write(`[candidates ${process.pid}] ${m}\n`);

// The candidate's voice, as the C# tester's SpeechFrames: voiced harmonics, ~4 syllables a second, a little seeded noise.
const SPEECH = (() => {
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const frames = [];
  for (let f = 0; f < 25; f++) {
    const pcm = new Int16Array(SAMPLES);
    const pitch = 110 + Math.floor(rnd() * 90);
    for (let i = 0; i < SAMPLES; i++) {
      const t = (f * SAMPLES + i) / RATE;
      const env = 0.55 + 0.45 * Math.sin(2 * Math.PI * 4 * t);
      const v = Math.sin(2 * Math.PI * pitch * t) + 0.5 * Math.sin(4 * Math.PI * pitch * t) + 0.25 * Math.sin(6 * Math.PI * pitch * t);
      pcm[i] = Math.max(-32768, Math.min(32767, Math.round((v * 0.6 + (rnd() * 2 - 1) * 0.1) * env * 9000)));
    }
    frames.push(pcm);
  }
  return frames;
})();
const SILENCE = new Int16Array(SAMPLES);

const totals = { framesSent: 0, framesLate: 0, captureErrors: 0, framesHeard: 0 };
const sessions = new Map();
const now = () => performance.now();

class Candidate {
  constructor(cfg) {
    this.id = cfg.id;
    this.cfg = cfg;
    this.speechFrames = Math.max(1, Math.round(cfg.speechMs / FRAME_MS));
    this.cycleFrames = this.speechFrames + Math.max(1, Math.round(cfg.silenceMs / FRAME_MS));
    this.phase = Math.floor((cfg.offsetMs || 0) / FRAME_MS) % this.cycleFrames;
    this.room = new Room();
    this.source = null;
    this.closed = false;
    this.nextDue = 0;
    this.seq = 0;
    this.capturing = false;
    this.awaiting = false; // an utterance ended and no answer was heard yet
    this.endAt = 0;
    this.answer = null; // { frames, quiet } while an answer is being heard
    this.stream = null;
    this.voice = null; // { sid, start, last, quiet } while a run of loud agent audio is heard
  }

  async start() {
    const started = now();
    this.room.on(RoomEvent.TrackSubscribed, (track, pub, participant) => {
      if (track.kind !== TrackKind.KIND_AUDIO) return;
      if (!this.stream) out({ ev: 'agent', id: this.id, ms: Math.round(now() - started) }); // the agent's voice first reached this candidate
      // The agent re-joined (from another silo, or after its bridge restarted): its new track is the one to hear.
      out({ ev: 'subscribed', id: this.id, identity: participant.identity, participantSid: participant.sid, trackSid: pub.sid });
      this.listen(track, participant);
    });
    this.room.on(RoomEvent.Reconnecting, () => out({ ev: 'reconnecting', id: this.id }));
    this.room.on(RoomEvent.Reconnected, () => out({ ev: 'reconnected', id: this.id }));
    this.room.on(RoomEvent.Disconnected, (reason) => { if (!this.closed) out({ ev: 'failed', id: this.id, message: `disconnected (${reason})` }); });
    await this.room.connect(this.cfg.url, this.cfg.token, { autoSubscribe: true, dynacast: false });
    const source = new AudioSource(RATE, 1, SOURCE_QUEUE_MS);
    await this.room.localParticipant.publishTrack(LocalAudioTrack.createAudioTrack('microphone', source),
      new TrackPublishOptions({ source: TrackSource.SOURCE_MICROPHONE }));
    if (this.closed) { await source.close().catch(() => {}); return; }
    this.source = source;
    this.nextDue = now();
    out({ ev: 'joined', id: this.id, ms: Math.round(now() - started) });
  }

  /** Called by the shared clock: hands over the frame that is due, or counts it late when real time moved on. */
  tick(t) {
    if (!this.source || this.closed || t < this.nextDue) return;
    let late = Math.floor((t - this.nextDue) / FRAME_MS); // whole frames the clock missed: skipped, not burst out
    this.nextDue += (late + 1) * FRAME_MS;
    if (this.capturing || this.source.queuedDuration > MAX_AHEAD_MS) late++; // the source is behind: this frame too
    else this.capture(t);
    if (late > 0) { totals.framesLate += late; this.advance(late); }
  }

  /** Moves the speech pattern on by frames that were never sent, keeping its timing. */
  advance(frames) {
    for (let i = 0; i < frames; i++) this.step(now(), false);
  }

  /** The pattern's next frame; at the end of an utterance, stamps when the candidate's speech ended as sent. */
  step(t, sending) {
    const phase = this.phase;
    this.phase = (this.phase + 1) % this.cycleFrames;
    if (phase === this.speechFrames) {
      if (this.awaiting) out({ ev: 'unanswered', id: this.id });
      // the last speech frame ends where the source's queue ends: what it still held is in flight, not yet sent
      this.endAt = t + (sending && this.source ? Math.max(0, this.source.queuedDuration) : 0);
      this.awaiting = this.stream !== null; // speech before the agent is in the room is no turn: nobody was there to answer
      this.answer = null;
    }
    return phase < this.speechFrames ? SPEECH[this.seq++ % SPEECH.length] : SILENCE;
  }

  capture(t) {
    const pcm = this.step(t, true);
    this.capturing = true;
    this.source.captureFrame(new AudioFrame(pcm, RATE, 1, SAMPLES)).then(
      () => { totals.framesSent++; },
      () => { totals.captureErrors++; },
    ).finally(() => { this.capturing = false; });
  }

  async listen(track, participant) {
    const identity = participant.identity;
    const older = this.stream;
    const stream = (this.stream = new AudioStream(track, { sampleRate: RATE, numChannels: 1, frameSizeMs: FRAME_MS }));
    if (older) older.cancel().catch(() => {});
    try {
      for await (const frame of stream) {
        if (this.closed || this.stream !== stream) break;
        totals.framesHeard++;
        const d = frame.data;
        let sum = 0;
        for (let i = 0; i < d.length; i++) sum += d[i] < 0 ? -d[i] : d[i];
        const loud = sum / d.length > LOUD;
        this.trackVoice(loud, participant.sid);
        if (loud && this.awaiting) {
          this.awaiting = false;
          this.answer = { frames: 0, quiet: 0, v2v: now() - this.endAt };
        }
        const a = this.answer;
        if (!a) continue;
        if (loud) { a.frames++; a.quiet = 0; } else if (++a.quiet >= QUIET_FRAMES_END) {
          out({ ev: 'turn', id: this.id, v2vMs: Math.round(a.v2v * 100) / 100, heardFrames: a.frames });
          this.answer = null;
        }
      }
    } catch (e) {
      if (!this.closed) log(`${this.id}: agent stream from ${identity} ended: ${e && e.message}`);
    }
  }

  /** Runs of loud agent audio in wall-clock time, so a test can measure the gap in the agent's voice across a fault. */
  trackVoice(loud, sid) {
    const t = Date.now();
    const v = this.voice;
    if (loud) {
      if (v && v.sid === sid) { v.last = t; v.quiet = 0; return; }
      if (v) this.endVoice();
      this.voice = { sid, start: t, last: t, quiet: 0 };
    } else if (v && ++v.quiet >= QUIET_FRAMES_END) {
      this.endVoice();
    }
  }

  endVoice() {
    const v = this.voice;
    this.voice = null;
    out({ ev: 'voice', id: this.id, participantSid: v.sid, startMs: v.start, endMs: v.last + FRAME_MS });
  }

  async close() {
    if (this.closed) return;
    this.closed = true;
    const source = this.source;
    this.source = null;
    try { if (this.stream) await this.stream.cancel(); } catch { /* gone */ }
    try { await this.room.disconnect(); } catch (e) { log(`${this.id}: disconnect failed: ${e && e.message}`); }
    try { if (source) await source.close(); } catch { /* gone */ }
    this.room.removeAllListeners();
  }
}

// One clock for every candidate: 10 ms ticks, each sending whatever is due (a timer per room would cost N timers per frame).
function clock() {
  const t = now();
  for (const c of sessions.values()) c.tick(t);
  setTimeout(clock, 10 - ((now() - t0) % 10));
}
const t0 = now();

setInterval(() => {
  const cpu = process.cpuUsage();
  out({ ev: 'stats', sessions: sessions.size, ...totals, rss: process.memoryUsage().rss, cpuUserUs: cpu.user, cpuSystemUs: cpu.system });
}, 1000);

function onLine(line) {
  let m;
  try { m = JSON.parse(line); } catch { return log('ignored a line that is not JSON'); }
  switch (m.op) {
    case 'join': {
      if (sessions.has(m.id)) return;
      const c = new Candidate(m);
      sessions.set(m.id, c);
      c.start().catch((e) => {
        sessions.delete(m.id);
        out({ ev: 'failed', id: m.id, message: `join failed: ${e && e.message ? e.message : e}` }); // rtc-node's errors never carry the token
        c.close();
      });
      return;
    }
    case 'leave': {
      const c = sessions.get(m.id);
      if (!c) return;
      sessions.delete(m.id);
      c.close().finally(() => out({ ev: 'left', id: m.id }));
      return;
    }
    default: log(`unknown op ${String(m.op).slice(0, 20)}`);
  }
}

const lines = readline.createInterface({ input: process.stdin });
lines.on('line', onLine);
lines.on('close', async () => {
  await Promise.race([Promise.allSettled([...sessions.values()].map((c) => c.close())), new Promise((r) => setTimeout(r, 3000))]);
  try { await dispose(); } catch { /* exiting */ }
  process.exit(0);
});
process.on('unhandledRejection', (e) => log(`unhandled: ${e && e.message}`));
clock();
out({ ev: 'ready' });
