'use strict';
// The bridge's own FfiClient for @livekit/rtc-node 1.1.0: one native callback that routes the per-frame events to their
// owner by handle or async id, and everything else to rtc-node exactly as its own FfiClient would.
//
// Why (profile of 6 sessions, #16): rtc-node's FfiClient decodes every native event with protobuf-es and emits it to every
// listener. Each Room's listener takes an async mutex per event, each AudioStream and each pending captureFrame() filters
// it, so one 20 ms frame costs O(sessions) promise-heavy calls, twice (frame in, capture callback), and with log capture
// on (rtc-node 1.1.0 passes captureLogs = true and then ignores the batches) every libwebrtc debug line came over as one
// more event. Here a frame costs one hand-decoded event and one call.
//
// Depends on internals of rtc-node 1.1.0 (dist/ffi_client.cjs, the globalThis._ffiClientInstance singleton, the proto
// layout of the three hot messages): all checked when this module loads, which throws if any of them differs.
const path = require('path');
const EventEmitter = require('events');

const PINNED = '1.1.0';
const dist = path.dirname(require.resolve('@livekit/rtc-node'));
const fail = (what) => { throw new Error(`ffi-hub: ${what} (the bridge is pinned to @livekit/rtc-node ${PINNED}; re-check bridge/ffi-hub.js before upgrading)`); };

const rtcVersion = require(path.join(dist, '..', 'package.json')).version;
if (rtcVersion !== PINNED) fail(`found @livekit/rtc-node ${rtcVersion}`);
// rtc-node's own copy of the bindings, not whichever one the bridge would resolve: the native library keeps one server
const b = require(require.resolve('@livekit/rtc-ffi-bindings', { paths: [dist] }));
for (const name of ['livekitInitialize', 'livekitFfiRequest', 'livekitCopyBuffer', 'livekitRetrievePtr', 'FfiHandle', 'FfiEvent',
  'FfiRequest', 'FfiResponse', 'NewAudioStreamRequest', 'AudioStreamType', 'CaptureAudioFrameRequest', 'AudioFrameBufferInfo']) {
  if (!b[name]) fail(`@livekit/rtc-ffi-bindings has no ${name}`);
}
const { FfiClient } = require(path.join(dist, 'ffi_client.cjs'));
const { SDK_VERSION } = require(path.join(dist, 'version.cjs'));
if (typeof FfiClient !== 'function' || typeof FfiClient.prototype.request !== 'function' || typeof FfiClient.prototype.waitFor !== 'function') {
  fail('dist/ffi_client.cjs has no FfiClient with request() and waitFor()');
}
const instanceGetter = Object.getOwnPropertyDescriptor(FfiClient, 'instance');
if (!instanceGetter || !instanceGetter.get || !/_ffiClientInstance/.test(String(instanceGetter.get))) fail('FfiClient.instance is not the globalThis._ffiClientInstance singleton');
if (globalThis._ffiClientInstance) fail('an FfiClient exists already: bridge/ffi-hub.js must load before anything uses rtc-node');

const FFI_EVENT = 'ffi_event'; // FfiClientEvent.FfiEvent
const counters = { routed: 0, generic: 0, logsDropped: 0, strayFrames: 0, decodeErrors: 0 };

// ---- protobuf wire helpers over one buffer at a time (the callback and the requests are synchronous) ----
let buf = null;
let pos = 0;
/** An unsigned varint as a Number; above 2^53 it cannot be exact, and the caller's layout check fails instead. */
function uv() {
  let x = 0, m = 1, c;
  do {
    c = buf[pos++];
    x += (c & 0x7f) * m;
    m *= 128;
  } while (c & 0x80);
  if (x > Number.MAX_SAFE_INTEGER) throw new RangeError('varint beyond 2^53');
  return x;
}
function skip(wire) {
  if (wire === 0) uv();
  else if (wire === 2) pos += uv();
  else if (wire === 1) pos += 8;
  else if (wire === 5) pos += 4;
  else throw new RangeError(`wire type ${wire}`);
}
/** Moves pos to the body of field `field` (length-delimited) inside [pos, stop) and returns the body's end, or -1. */
function enter(field, stop) {
  while (pos < stop) {
    const t = uv();
    if (t >>> 3 === field && (t & 7) === 2) { const n = uv(); return pos + n; }
    skip(t & 7);
  }
  return -1;
}

const out = new Uint8Array(64); // request scratch: livekitFfiRequest reads it before returning
let q = 0;
const vsize = (v) => { let n = 1; while (v >= 128) { v = Math.floor(v / 128); n++; } return n; };
function put(v) {
  while (v >= 128) { out[q++] = (v % 128) | 128; v = Math.floor(v / 128); }
  out[q++] = v;
}

/** FfiRequest { capture_audio_frame(27): { source_handle(1), buffer(2): AudioFrameBufferInfo { data_ptr, channels, rate, samples } } } */
function encodeCapture(sourceHandle, dataPtr, channels, rate, samples) {
  const info = 4 + vsize(dataPtr) + vsize(channels) + vsize(rate) + vsize(samples);
  const req = 2 + vsize(sourceHandle) + vsize(info) + info;
  q = 0;
  out[q++] = 0xda; out[q++] = 0x01; // field 27, length-delimited
  put(req);
  out[q++] = 0x08; put(sourceHandle);
  out[q++] = 0x12; put(info);
  out[q++] = 0x08; put(dataPtr);
  out[q++] = 0x10; put(channels);
  out[q++] = 0x18; put(rate);
  out[q++] = 0x20; put(samples);
  return out.subarray(0, q);
}

/** FfiResponse { capture_audio_frame(27): { async_id(1) } } -> async id, or -1 for any other shape. */
function decodeCaptureResponse(res) {
  buf = res; pos = 0;
  const end = enter(27, res.length);
  if (end < 0) return -1;
  while (pos < end) {
    const t = uv();
    if (t === 0x08) return uv();
    skip(t & 7);
  }
  return -1;
}

// ---- event routing ----
const streams = new Map(); // stream handle (Number) -> LeanStream
const captures = new Map(); // async id (Number) -> (error string | null) => void
const utf8 = new TextDecoder();
let delivering = false; // set around the owner's handler: its exceptions are its own, not a layout we failed to read

/** FfiEvent { audio_stream_event(4) { stream_handle(1), frame_received(2) { frame(1) { handle(1) { id(1) }, info(2) } } | eos(3) } } */
function routeAudioStreamEvent(stop) {
  let handle = -1, kind = 0, bodyStart = 0, bodyEnd = 0;
  while (pos < stop) {
    const t = uv();
    const f = t >>> 3;
    if (f === 1 && (t & 7) === 0) handle = uv();
    else if ((f === 2 || f === 3) && (t & 7) === 2) { const n = uv(); kind = f; bodyStart = pos; pos += n; bodyEnd = pos; }
    else skip(t & 7);
  }
  const s = streams.get(handle);
  if (!s) return false; // not one of ours: rtc-node's own AudioStream (if any) gets it
  if (kind === 3) { delivering = true; s.ended(); delivering = false; return true; }
  if (kind !== 2) return false;
  pos = bodyStart;
  const frameEnd = enter(1, bodyEnd);
  if (frameEnd < 0) return false;
  let id = -1, ptr = -1, channels = 0, rate = 0, samples = 0;
  while (pos < frameEnd) {
    const t = uv();
    if (t === 0x0a) { // handle: FfiOwnedHandle
      const e = pos + uv();
      while (pos < e) { const u = uv(); if (u === 0x08) id = uv(); else skip(u & 7); }
    } else if (t === 0x12) { // info: AudioFrameBufferInfo
      const e = pos + uv();
      while (pos < e) {
        const u = uv();
        if (u === 0x08) ptr = uv(); else if (u === 0x10) channels = uv(); else if (u === 0x18) rate = uv(); else if (u === 0x20) samples = uv(); else skip(u & 7);
      }
    } else skip(t & 7);
  }
  if (id < 0 || ptr < 0) return false;
  let data = null;
  try {
    if (!s.closed) data = b.livekitCopyBuffer(BigInt(ptr), channels * samples * 2);
  } finally {
    new b.FfiHandle(BigInt(id)).dispose(); // the frame's native buffer, whatever happens to the copy
  }
  if (data === null) { counters.strayFrames++; return true; } // a frame after close: the FFI may still send one
  if (data.byteOffset % 2 !== 0) data = data.slice();
  delivering = true;
  s.onFrame(new Int16Array(data.buffer, data.byteOffset, channels * samples), rate, channels, samples);
  delivering = false;
  return true;
}

/** FfiEvent { capture_audio_frame(13) { async_id(1), error(2)? } } */
function routeCaptureCallback(stop) {
  let id = -1, error = null;
  while (pos < stop) {
    const t = uv();
    if (t === 0x08) id = uv();
    else if (t === 0x12) { const n = uv(); error = utf8.decode(buf.subarray(pos, pos + n)); pos += n; }
    else skip(t & 7);
  }
  const done = captures.get(id);
  if (!done) return false; // rtc-node's own AudioSource.captureFrame() waits for it
  captures.delete(id);
  delivering = true;
  done(error);
  delivering = false;
  return true;
}

function route(data) {
  buf = data; pos = 0;
  if (data.length < 2) return false;
  const t = uv();
  if ((t & 7) !== 2) return false;
  const n = uv();
  if (pos + n !== data.length) return false; // FfiEvent is one oneof field: anything else is not a shape we know
  switch (t >>> 3) {
    case 4: return routeAudioStreamEvent(pos + n);
    case 13: return routeCaptureCallback(pos + n);
    case 18: counters.logsDropped++; return true; // a LogBatch: rtc-node 1.1.0 ignores them too
    default: return false;
  }
}

// ---- the client ----
// rtc-node's FfiClient minus its constructor (which would pass captureLogs = true): same prototype, same emitter, so every
// rtc-node object (Room, LocalParticipant, AudioSource...) works on it unchanged through FfiClient.instance.
const client = Object.create(FfiClient.prototype);
EventEmitter.call(client);
client._nextRequestAsyncId = BigInt(0);
client.setMaxListeners(0);
function onNativeEvent(data) {
  let done = false;
  try {
    done = route(data);
  } catch (e) {
    if (delivering) { delivering = false; throw e; }
    counters.decodeErrors++; // a layout we do not know: rtc-node decodes it below
  }
  if (done) { counters.routed++; return; }
  counters.generic++;
  client.emit(FFI_EVENT, b.FfiEvent.fromBinary(data));
}

// captureLogs = false: the native side logs errors to stderr (env_logger, RUST_LOG) instead of sending every debug line
// here; rtc-node 1.1.0 drops the batches it asks for anyway.
b.livekitInitialize(onNativeEvent, false, SDK_VERSION);
globalThis._ffiClientInstance = client;
if (FfiClient.instance !== client) fail('FfiClient.instance did not pick up the bridge client');

// ---- start-up self test: the hand-written layouts against protobuf-es with the descriptors rtc-node ships ----
(function selfTest() {
  const ptr = 0x7f1234567890;
  const mine = Buffer.from(encodeCapture(7, ptr, 1, 24000, 480));
  const theirs = Buffer.from(new b.FfiRequest({ message: { case: 'captureAudioFrame', value: new b.CaptureAudioFrameRequest({
    sourceHandle: BigInt(7), buffer: new b.AudioFrameBufferInfo({ dataPtr: BigInt(ptr), numChannels: 1, sampleRate: 24000, samplesPerChannel: 480 }) }) } }).toBinary());
  if (!mine.equals(theirs)) fail(`CaptureAudioFrameRequest layout differs (${mine.toString('hex')} vs ${theirs.toString('hex')})`);
  const res = new b.FfiResponse({ message: { case: 'captureAudioFrame', value: { asyncId: BigInt(123456789) } } }).toBinary();
  if (decodeCaptureResponse(res) !== 123456789) fail('CaptureAudioFrameResponse layout differs');
  let heard = null;
  captures.set(41, (e) => { heard = e; });
  if (!route(new b.FfiEvent({ message: { case: 'captureAudioFrame', value: { asyncId: BigInt(41), error: 'x' } } }).toBinary()) || heard !== 'x') fail('CaptureAudioFrameCallback layout differs');
  let eos = false;
  streams.set(12, { ended: () => { eos = true; } });
  const ev = new b.FfiEvent({ message: { case: 'audioStreamEvent', value: { streamHandle: BigInt(12), message: { case: 'eos', value: {} } } } }).toBinary();
  if (!route(ev) || !eos) fail('AudioStreamEvent layout differs');
  streams.delete(12);
  // frame_received: parse only (a real frame needs a native buffer), checked field by field
  const fr = new b.FfiEvent({ message: { case: 'audioStreamEvent', value: { streamHandle: BigInt(12), message: { case: 'frameReceived', value: {
    frame: { handle: { id: BigInt(99) }, info: { dataPtr: BigInt(ptr), numChannels: 1, sampleRate: 24000, samplesPerChannel: 480 } } } } } } }).toBinary();
  buf = fr; pos = 0;
  const layout = [0x22, -1, 0x08, 12, 0x12, -1, 0x0a, -1, 0x0a, -1, 0x08, 99, 0x12, -1, 0x08, ptr, 0x10, 1, 0x18, 24000, 0x20, 480];
  for (let i = 0; i < layout.length; i += 2) {
    if (uv() !== layout[i]) fail(`AudioFrameReceived layout differs at ${i / 2}`);
    const v = uv();
    if (layout[i + 1] !== -1 && v !== layout[i + 1]) fail(`AudioFrameReceived value differs at ${i / 2}`);
  }
})();

// ---- the two hot paths ----

/** An inbound audio stream of one remote track, frames delivered by call (no ReadableStream, no promise per frame). */
class LeanStream {
  /**
   * @param track rtc-node RemoteAudioTrack
   * @param {{sampleRate:number, numChannels:number, frameSizeMs:number}} options
   * @param {(samples: Int16Array, sampleRate: number, channels: number, samplesPerChannel: number) => void} onFrame
   * @param {() => void} onEnd end of stream from the FFI (not called after close())
   */
  constructor(track, { sampleRate, numChannels, frameSizeMs }, onFrame, onEnd) {
    this.onFrame = onFrame;
    this.onEnd = onEnd;
    this.closed = false;
    const res = client.request({ message: { case: 'newAudioStream', value: new b.NewAudioStreamRequest({
      type: b.AudioStreamType.AUDIO_STREAM_NATIVE, trackHandle: track.ffi_handle.handle, sampleRate, numChannels, frameSizeMs }) } });
    this.ffiHandle = new b.FfiHandle(res.stream.handle.id);
    this.key = Number(res.stream.handle.id);
    streams.set(this.key, this);
  }

  ended() {
    if (this.closed) return;
    this.close();
    this.onEnd();
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    this.ffiHandle.dispose(); // the FFI stops the stream task; a frame already on its way is freed by routeAudioStreamEvent
    // kept a while so such late frames are still recognised as ours and freed, then forgotten
    setTimeout(() => { if (streams.get(this.key) === this) streams.delete(this.key); }, 5000).unref();
  }
}

/**
 * captureFrame() for an rtc-node AudioSource without its per-frame protobuf, BigInt clock, timer pair and waitFor
 * listener. The source itself (creation, track, clearQueue, close) stays rtc-node's. One capture in flight at a time.
 */
class LeanCapture {
  constructor(source /* rtc-node AudioSource */) {
    this.source = source;
    this.handle = Number(source.ffiHandle.handle);
    this.sampleRate = source.sampleRate;
    this.channels = source.numChannels;
    this.pendingId = -1;
    this.lastCapture = 0;
    this.queued = 0; // ms, rtc-node's own estimate (AudioSource.queuedDuration) kept the same way
  }

  /** Hands `samples` to the native queue; done(error | null) when the source accepted it (the FFI's callback). */
  capture(samples /* Int16Array */, done) {
    if (this.pendingId >= 0) throw new Error('capture already in flight');
    const perChannel = samples.length / this.channels;
    const now = performance.now();
    const elapsed = this.lastCapture === 0 ? 0 : now - this.lastCapture;
    this.queued = Math.max(this.queued - elapsed, 0) + (perChannel / this.sampleRate) * 1000;
    this.lastCapture = now;
    const ptr = Number(b.livekitRetrievePtr(new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength)));
    if (!Number.isSafeInteger(ptr)) throw new Error('buffer address beyond 2^53');
    const res = b.livekitFfiRequest(encodeCapture(this.handle, ptr, this.channels, this.sampleRate, perChannel));
    const id = decodeCaptureResponse(res);
    if (id < 0) throw new Error(`unexpected captureAudioFrame response ${Buffer.from(res).toString('hex').slice(0, 80)}`);
    this.pendingId = id;
    captures.set(id, (error) => {
      this.pendingId = -1;
      done(error);
    });
  }

  get queuedMs() {
    return this.lastCapture === 0 ? 0 : Math.max(this.queued - (performance.now() - this.lastCapture), 0);
  }

  clear() {
    this.source.clearQueue();
    this.queued = 0;
    this.lastCapture = 0;
  }

  /** Forgets a capture whose callback may never come (the source is going away). */
  abandon() {
    if (this.pendingId >= 0) captures.delete(this.pendingId);
    this.pendingId = -1;
  }
}

module.exports = { LeanStream, LeanCapture, counters, client };
