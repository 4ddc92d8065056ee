'use strict';
// Everything the bridge says to the silo goes through here. While the pipe accepts writes they go straight out; when it
// pushes back, control frames wait in one bounded queue and audio in one bounded queue per session (drop-oldest, counted),
// drained round-robin, so a silo that reads slowly loses the oldest audio instead of stalling rooms or growing memory.
class Uplink {
  constructor(stream, { audioFrames = 25, controlFrames = 4096 } = {}) {
    this.stream = stream;
    this.maxAudio = audioFrames;
    this.maxControl = controlFrames;
    this.controlQ = [];
    this.audioQ = new Map(); // session -> Buffer[]
    this.blocked = false;
    this.closed = false;
    this.drops = new Map(); // session -> count of audio frames dropped here
    this.controlDrops = 0;
    this.batch = []; // frames of this event-loop turn, written together by flushBatch
    this.flushBatch = this.flushBatch.bind(this);
    stream.on('drain', () => { this.blocked = false; this.flush(); });
    stream.on('error', () => { this.closed = true; });
  }

  control(buf) {
    if (this.closed) return;
    if (!this.blocked && this.controlQ.length === 0) return this.write(buf);
    if (this.controlQ.length >= this.maxControl) { this.controlQ.shift(); this.controlDrops++; }
    this.controlQ.push(buf);
  }

  audio(session, buf) {
    if (this.closed) return;
    const q = this.audioQ.get(session);
    if (!this.blocked && (!q || q.length === 0) && this.controlQ.length === 0) return this.write(buf);
    if (!q) { this.audioQ.set(session, [buf]); return; }
    if (q.length >= this.maxAudio) { q.shift(); this.drops.set(session, (this.drops.get(session) || 0) + 1); }
    q.push(buf);
  }

  dropsOf(session) { return this.drops.get(session) || 0; }
  depthOf(session) { const q = this.audioQ.get(session); return q ? q.length : 0; }
  forget(session) { this.audioQ.delete(session); this.drops.delete(session); }

  /**
   * Frames written in one turn of the event loop leave in one write: stdout on a pipe writes synchronously on Linux, so a
   * write per frame was a syscall per frame (the profile's largest item of ours at 10 sessions). setImmediate runs right
   * after the current poll phase, so a frame waits microseconds, not a frame period.
   */
  write(buf) {
    this.batch.push(buf);
    if (this.batch.length === 1) setImmediate(this.flushBatch);
  }

  flushBatch() {
    const batch = this.batch;
    if (batch.length === 0) return;
    this.batch = [];
    if (!this.stream.write(batch.length === 1 ? batch[0] : Buffer.concat(batch))) this.blocked = true;
  }

  flush() {
    while (!this.blocked && !this.closed && this.controlQ.length > 0) this.write(this.controlQ.shift());
    let more = true;
    while (more && !this.blocked && !this.closed) {
      more = false;
      for (const q of this.audioQ.values()) {
        if (q.length === 0) continue;
        this.write(q.shift());
        if (q.length > 0) more = true;
        if (this.blocked) return;
      }
    }
  }
}

module.exports = { Uplink };
