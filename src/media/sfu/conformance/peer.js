'use strict';
// An official @livekit/rtc-node participant for the conformance tests: publishes a tone (24 kHz mono, 480-sample frames
// through AudioSource) and keeps the last second of what it hears from each remote participant.
const { Room, RoomEvent, AudioSource, LocalAudioTrack, TrackPublishOptions, TrackSource, AudioFrame, AudioStream, TrackKind } = require('@livekit/rtc-node');

const RATE = 24000;
const FRAME = 480;
const KEEP = RATE; // one second

class TonePeer {
  constructor(name, freq) {
    this.name = name;
    this.freq = freq;
    this.room = new Room();
    this.heard = new Map(); // remote identity → { samples: Int16Array ring, frames }
    this.events = [];
    this.data = []; // data packets received: { from, topic, kind, text }
    this.room.on(RoomEvent.DataReceived, (payload, participant, kind, topic) =>
      this.data.push({ from: participant && participant.identity, topic, kind, text: Buffer.from(payload).toString('utf8') }));
    this.room.on(RoomEvent.TrackSubscribed, (track, _pub, participant) => {
      if (track.kind !== TrackKind.KIND_AUDIO) return;
      this.consume(track, participant.identity);
    });
    for (const e of [RoomEvent.Disconnected, RoomEvent.Reconnecting, RoomEvent.Reconnected, RoomEvent.ParticipantConnected, RoomEvent.ParticipantDisconnected])
      this.room.on(e, (...args) => this.events.push({ e, at: Date.now(), arg: typeof args[0] === 'object' && args[0] ? args[0].identity : args[0] }));
  }

  async connect(url, token) {
    await this.room.connect(url, token, { autoSubscribe: true, dynacast: false });
    return this;
  }

  async publish() {
    this.source = new AudioSource(RATE, 1, 100);
    const track = LocalAudioTrack.createAudioTrack('tone', this.source);
    const options = new TrackPublishOptions();
    options.source = TrackSource.SOURCE_MICROPHONE;
    this.publication = await this.room.localParticipant.publishTrack(track, options);
    this.pumping = true;
    this.pump();
    return this;
  }

  async pump() {
    let phase = 0;
    const step = (2 * Math.PI * this.freq) / RATE;
    while (this.pumping) {
      const data = new Int16Array(FRAME);
      for (let i = 0; i < FRAME; i++) {
        data[i] = Math.round(Math.sin(phase) * 12000);
        phase += step;
      }
      try {
        await this.source.captureFrame(new AudioFrame(data, RATE, 1, FRAME));
      } catch {
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  }

  async consume(track, identity) {
    const entry = { samples: new Int16Array(KEEP), filled: 0, frames: 0, lastAt: 0 };
    this.heard.set(identity, entry);
    const stream = new AudioStream(track, RATE, 1);
    for await (const frame of stream) {
      const d = frame.data;
      // keep the newest second: shift left, append
      if (d.length >= KEEP) entry.samples.set(d.subarray(d.length - KEEP));
      else {
        entry.samples.copyWithin(0, d.length);
        entry.samples.set(d, KEEP - d.length);
      }
      entry.filled = Math.min(KEEP, entry.filled + d.length);
      entry.frames++;
      entry.lastAt = Date.now();
    }
  }

  /** The last half second heard from `identity` (null until that much arrived). */
  recent(identity, samples = RATE / 2) {
    const e = this.heard.get(identity);
    if (!e || e.filled < samples) return null;
    return e.samples.subarray(KEEP - samples);
  }

  remoteIdentities() {
    return [...this.room.remoteParticipants.values()].map((p) => p.identity);
  }

  async close() {
    this.pumping = false;
    await this.room.disconnect().catch(() => undefined);
  }
}

module.exports = { TonePeer, RATE };
