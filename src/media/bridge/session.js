'use strict';
// One agent room connection: publishes the agent's voice, hears only the candidate's microphone. rtc-node does the room
// (connect, publish, subscribe, data); the per-frame paths both ways go through ffi-hub.js, which must load first.
const { LeanStream, LeanCapture } = require('./ffi-hub');
const {
  Room, RoomEvent, AudioSource, LocalAudioTrack, TrackPublishOptions, TrackSource, TrackKind, ParticipantKind,
} = require('@livekit/rtc-node');
const { SAMPLES, State, encodeState, encodeTrack, encodeAudioIn } = require('./protocol');
const { SessionBase, nowMicros } = require('./session-base');

const SAMPLE_RATE = 24000;
const MAX_DATA_IN_FLIGHT = 32; // publishData calls not yet settled; past it a packet is dropped and counted, the pipe never waits
// AUDIO_OUT frames already waiting are handed to the source together, up to 100 ms and never more than its queue (a capture
// bigger than the queue is fed in pieces and could outlive a CLEAR): fewer FFI round trips, no added latency
const MAX_JOIN = 5;

class Session extends SessionBase {
  /**
   * @param {number} id wire id (the silo's)
   * @param {object} join { url, token, identity, name, candidate, queueMs, autoSubscribe }
   * @param {import('./uplink').Uplink} uplink
   * @param {object} limits { outQueueFrames }
   */
  constructor(id, join, uplink, limits, log) {
    super(id, join, uplink, log); // outQueue: Int16Array(480) each; bounded, drop-oldest
    this.maxOut = limits.outQueueFrames;
    this.pumping = false;
    this.room = null;
    this.source = null;
    this.capture = null; // LeanCapture over this.source
    this.inFlight = 0; // AUDIO_OUT frames in the capture in flight
    this.secondHalf = null; // queue 0 only: the other 10 ms of the frame in flight
    this.clearAgain = false; // a CLEAR came while a capture was in flight: its audio may reach the source after the clear
    this.onCaptured = this.onCaptured.bind(this);
    this.candidate = null; // { sid, identity, stream, acc, filled }
    this.inSeq = 0;
    this.dataInFlight = 0;
    this.state = -1;
  }

  setState(state, reason) {
    if (this.state === state && state !== State.FAILED) return;
    this.state = state;
    this.uplink.control(encodeState(this.id, state, reason));
  }

  async start() {
    this.setState(State.CONNECTING, '');
    const room = (this.room = new Room());
    room.on(RoomEvent.Reconnecting, () => this.setState(State.RECONNECTING, 'signal lost'));
    room.on(RoomEvent.Reconnected, () => this.setState(State.CONNECTED, 'reconnected'));
    room.on(RoomEvent.Disconnected, (reason) => {
      if (!this.closed) this.setState(State.DISCONNECTED, `disconnected (${reason})`);
    });
    room.on(RoomEvent.TrackPublished, (pub, participant) => this.consider(pub, participant));
    room.on(RoomEvent.TrackSubscribed, (track, pub, participant) => this.onSubscribed(track, pub, participant));
    room.on(RoomEvent.TrackUnsubscribed, (_track, pub, participant) => this.onUnsubscribed(pub, participant));
    room.on(RoomEvent.TrackUnpublished, (pub, participant) => this.onUnsubscribed(pub, participant));
    room.on(RoomEvent.ParticipantDisconnected, (participant) => {
      if (this.candidate && this.candidate.identity === participant.identity) this.onUnsubscribed({ sid: this.candidate.sid }, participant);
    });
    try {
      await room.connect(this.join.url, this.join.token, { autoSubscribe: this.join.autoSubscribe, dynacast: false });
      if (this.closed) return;
      const source = new AudioSource(SAMPLE_RATE, 1, this.join.queueMs);
      const track = LocalAudioTrack.createAudioTrack('agent-voice', source);
      await room.localParticipant.publishTrack(track, new TrackPublishOptions({ source: TrackSource.SOURCE_MICROPHONE }));
      if (this.closed) { await source.close().catch(() => {}); return; }
      this.source = source;
      this.capture = new LeanCapture(source);
      this.setState(State.CONNECTED, 'joined');
      for (const p of room.remoteParticipants.values()) for (const pub of p.trackPublications.values()) this.consider(pub, p);
      this.pump();
    } catch (e) {
      // rtc-node's connect errors name the URL and the server's reason, never the token (it travels as a header)
      if (!this.closed) this.setState(State.FAILED, `join failed: ${e && e.message ? e.message : e}`);
    }
  }

  isCandidateMic(pub, participant) {
    if (pub.kind !== TrackKind.KIND_AUDIO) return false;
    if (this.join.candidate) return participant.identity === this.join.candidate;
    // without a named candidate: any non-agent participant's microphone (other agents, recorders, egress are ignored)
    return participant.kind !== ParticipantKind.AGENT && participant.kind !== ParticipantKind.EGRESS
      && (pub.source === TrackSource.SOURCE_MICROPHONE || pub.source === TrackSource.SOURCE_UNKNOWN);
  }

  consider(pub, participant) {
    if (this.closed || !this.isCandidateMic(pub, participant)) return;
    if (this.candidate && this.candidate.identity !== participant.identity) return; // one candidate per session
    if (!pub.subscribed && !this.join.autoSubscribe) pub.setSubscribed(true);
    else if (pub.track && (!this.candidate || this.candidate.sid !== pub.sid)) this.onSubscribed(pub.track, pub, participant);
  }

  onSubscribed(track, pub, participant) {
    if (this.closed || !this.isCandidateMic(pub, participant)) return;
    if (this.candidate && this.candidate.sid === pub.sid) return;
    if (this.candidate) {
      if (this.candidate.identity !== participant.identity) return;
      this.stopCandidate(); // the same candidate republished (after a reconnect): follow the new track
    }
    const c = { sid: pub.sid, identity: participant.identity, stream: null, acc: new Int16Array(SAMPLES), filled: 0 };
    c.stream = new LeanStream(track, { sampleRate: SAMPLE_RATE, numChannels: 1, frameSizeMs: 20 }, (data) => this.onCandidateFrame(c, data), () => {
      if (!this.closed && this.candidate === c) this.log(`session ${this.name}: candidate stream ended`);
    });
    this.candidate = c;
    this.uplink.control(encodeTrack(this.id, true, participant.identity, pub.sid || ''));
  }

  onUnsubscribed(pub, participant) {
    if (!this.candidate || this.candidate.sid !== pub.sid) return;
    this.stopCandidate();
    this.uplink.control(encodeTrack(this.id, false, participant.identity, pub.sid || ''));
  }

  stopCandidate() {
    const c = this.candidate;
    this.candidate = null;
    if (c) c.stream.close();
  }

  /** Re-chunks whatever the stream yields into 480-sample frames and sends them up, stamped at arrival. */
  onCandidateFrame(c, data /* Int16Array, valid during the call */) {
    if (this.candidate !== c) return;
    if (c.filled === 0 && data.length === SAMPLES) {
      // the stream yields 20 ms frames (frameSizeMs): encode straight from them, no re-chunking copy
      this.uplink.audio(this.id, encodeAudioIn(this.id, this.inSeq++, nowMicros(), data));
      this.framesIn++;
      return;
    }
    const acc = c.acc;
    let i = 0;
    while (i < data.length) {
      const n = Math.min(SAMPLES - c.filled, data.length - i);
      acc.set(data.subarray(i, i + n), c.filled);
      c.filled += n;
      i += n;
      if (c.filled === SAMPLES) {
        this.uplink.audio(this.id, encodeAudioIn(this.id, this.inSeq++, nowMicros(), acc));
        this.framesIn++;
        c.filled = 0;
      }
    }
  }

  /** AUDIO_OUT: copied off the pipe buffer into the bounded queue; the oldest frame goes when it is full. */
  enqueueOut(pcm /* Buffer view, 960 bytes */) {
    if (this.closed) return;
    const samples = SessionBase.copyFrame(pcm);
    if (this.outQueue.length >= this.maxOut) {
      this.outQueue.shift();
      this.dropsOut++;
    }
    this.outQueue.push(samples);
    if (!this.pumping && this.source) this.pump();
  }

  /** Feeds the AudioSource one capture at a time; the FFI's callback (onCaptured) sends the next. Never waits on the pipe. */
  pump() {
    if (this.pumping || this.closed || !this.capture) return;
    let chunk;
    if (this.secondHalf) {
      chunk = this.secondHalf;
      this.secondHalf = null;
      this.inFlight = 1;
    } else {
      const q = this.outQueue;
      if (q.length === 0) return;
      if (this.join.queueMs === 0) {
        // queue 0 is rtc-node's direct capture: 10 ms frames only, and no pacing (measurement only; the silo never asks for it)
        const samples = q.shift();
        chunk = samples.subarray(0, SAMPLES / 2);
        this.secondHalf = samples.subarray(SAMPLES / 2);
        this.inFlight = 0;
      } else {
        const n = Math.min(q.length, MAX_JOIN, Math.max(1, Math.floor(this.join.queueMs / 20)));
        if (n === 1) chunk = q.shift();
        else {
          chunk = new Int16Array(n * SAMPLES);
          for (let i = 0; i < n; i++) chunk.set(q.shift(), i * SAMPLES);
        }
        this.inFlight = n;
      }
    }
    this.pumping = true;
    try {
      this.capture.capture(chunk, this.onCaptured);
    } catch (e) {
      this.pumping = false;
      this.secondHalf = null;
      if (!this.closed) this.log(`session ${this.name}: captureFrame failed: ${e && e.message}`);
    }
  }

  onCaptured(error) {
    this.pumping = false;
    if (this.clearAgain) {
      this.clearAgain = false;
      if (this.capture && !this.closed) this.capture.clear(); // what that capture put in after the CLEAR goes too
    }
    if (error) {
      this.secondHalf = null;
      if (!this.closed) this.log(`session ${this.name}: captureFrame failed: ${error}`);
      return; // the next AUDIO_OUT starts the pump again
    }
    this.framesOut += this.inFlight;
    this.pump();
  }

  /**
   * DATA: one packet into the room (the transcript lines the candidate's page shows). Before the join completes, or with
   * too many in flight, it is dropped and counted: the session keeps every turn, the page's copy is best effort.
   */
  publishData(topic, data, reliable) {
    if (this.closed || !this.source || this.dataInFlight >= MAX_DATA_IN_FLIGHT) {
      this.dataDropped++;
      return;
    }
    this.dataInFlight++;
    const bytes = new Uint8Array(data); // a copy: the pipe's buffer is reused after this call
    this.room.localParticipant.publishData(bytes, { reliable, topic }).then(() => {
      this.dataSent++;
    }, (e) => {
      this.dataDropped++;
      if (!this.closed) this.log(`session ${this.name}: publishData failed: ${e && e.message}`);
    }).finally(() => this.dataInFlight--);
  }

  /** Barge-in: nothing queued here or in the source is played. */
  clear() {
    this.clears++;
    this.dropsOut += this.outQueue.length;
    this.outQueue.length = 0;
    this.secondHalf = null;
    if (this.capture) {
      this.capture.clear();
      if (this.pumping) this.clearAgain = true;
    }
  }

  queuedMs() { return this.capture ? this.capture.queuedMs : 0; }

  async close(reason) {
    if (this.closed) return;
    this.closed = true;
    this.outQueue.length = 0;
    this.stopCandidate();
    const room = this.room;
    const source = this.source;
    this.source = null;
    if (this.capture) this.capture.abandon();
    this.capture = null;
    try { if (room) await room.disconnect(); } catch (e) { this.log(`session ${this.name}: disconnect failed: ${e && e.message}`); }
    try { if (source) await source.close(); } catch { /* already gone */ }
    room && room.removeAllListeners();
    this.state = -1;
    this.setState(State.DISCONNECTED, reason);
  }
}

module.exports = { Session, SAMPLE_RATE };
