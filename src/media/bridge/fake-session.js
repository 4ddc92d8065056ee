'use strict';
// BRIDGE_FAKE_ROOMS=1: a session without a room, for tests of the pipe and the supervisor where no SFU runs. It "joins"
// at once, reports a candidate track, and plays every AUDIO_OUT frame back up as AUDIO_IN (so the pipe path can be timed).
const { SAMPLES, State, encodeState, encodeTrack, encodeAudioIn } = require('./protocol');

class FakeSession {
  constructor(id, join, uplink, limits, log) {
    this.id = id;
    this.join = join;
    this.uplink = uplink;
    this.log = log;
    this.outQueue = [];
    this.framesIn = 0;
    this.framesOut = 0;
    this.dropsOut = 0;
    this.clears = 0;
    this.dataSent = 0;
    this.dataDropped = 0;
    this.closed = false;
    this.seq = 0;
  }

  get name() { return this.join.name || String(this.id); }

  async start() {
    this.uplink.control(encodeState(this.id, State.CONNECTING, ''));
    if (this.join.url.includes('fail')) return this.uplink.control(encodeState(this.id, State.FAILED, 'join failed: fake room refuses'));
    await new Promise((r) => setImmediate(r));
    if (this.closed) return;
    this.uplink.control(encodeState(this.id, State.CONNECTED, 'joined'));
    this.uplink.control(encodeTrack(this.id, true, this.join.candidate || 'candidate', 'TR_fake'));
  }

  enqueueOut(pcm) {
    if (this.closed) return;
    const samples = new Int16Array(SAMPLES);
    Buffer.from(samples.buffer).set(pcm);
    this.framesOut++;
    this.framesIn++;
    this.uplink.audio(this.id, encodeAudioIn(this.id, this.seq++, (performance.timeOrigin + performance.now()) * 1000, samples));
  }

  clear() { this.clears++; }
  publishData() { this.dataSent++; }
  queuedMs() { return 0; }

  async close(reason) {
    if (this.closed) return;
    this.closed = true;
    this.uplink.control(encodeState(this.id, State.DISCONNECTED, reason));
  }
}

module.exports = { FakeSession };
