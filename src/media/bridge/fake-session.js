'use strict';
// BRIDGE_FAKE_ROOMS=1: a session without a room, for tests of the pipe and the supervisor where no SFU runs. It "joins"
// at once, reports a candidate track, and plays every AUDIO_OUT frame back up as AUDIO_IN (so the pipe path can be timed).
const { State, encodeState, encodeTrack, encodeAudioIn } = require('./protocol');
const { SessionBase, nowMicros } = require('./session-base');

class FakeSession extends SessionBase {
  constructor(id, join, uplink, limits, log) {
    super(id, join, uplink, log);
    this.seq = 0;
  }

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
    const samples = SessionBase.copyFrame(pcm);
    this.framesOut++;
    this.framesIn++;
    this.uplink.audio(this.id, encodeAudioIn(this.id, this.seq++, nowMicros(), samples));
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
