'use strict';
// What every bridge session shares, the real one (session.js) and the roomless one (fake-session.js): its identity, the
// counters the supervisor reports, and the copy of an AUDIO_OUT frame off the pipe buffer.
const { SAMPLES } = require('./protocol');

/** Microseconds since the epoch, the stamp every AUDIO_IN frame carries. */
function nowMicros() { return (performance.timeOrigin + performance.now()) * 1000; }

class SessionBase {
  constructor(id, join, uplink, log) {
    this.id = id;
    this.join = join;
    this.uplink = uplink;
    this.log = log;
    this.outQueue = [];
    this.closed = false;
    this.framesIn = 0;
    this.framesOut = 0;
    this.dropsOut = 0;
    this.clears = 0;
    this.dataSent = 0;
    this.dataDropped = 0;
  }

  get name() { return this.join.name || String(this.id); }

  /** AUDIO_OUT's payload copied into a frame of its own: the pipe's buffer is reused after the call. */
  static copyFrame(pcm /* Buffer view, 960 bytes */) {
    const samples = new Int16Array(SAMPLES);
    Buffer.from(samples.buffer).set(pcm);
    return samples;
  }
}

module.exports = { SessionBase, nowMicros };
