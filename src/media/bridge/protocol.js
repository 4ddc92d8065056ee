'use strict';
// The silo <-> bridge wire format: u32 length (LE, counts everything after itself) | u8 type | u32 session | payload.
// Session 0 is the process itself (STATS, ERROR, PING/PONG about the process).

const HEADER = 9; // length(4) + type(1) + session(4)
const MIN_LENGTH = 5; // type + session
const MAX_LENGTH = 64 * 1024; // a JOIN with a long token is the largest legal frame; anything bigger is garbage
const SAMPLES = 480; // 20 ms at 24 kHz mono
const PCM_BYTES = SAMPLES * 2;

const Down = Object.freeze({ JOIN: 0x01, LEAVE: 0x02, AUDIO_OUT: 0x03, CLEAR: 0x04, PING: 0x05, DATA: 0x06 });
const Up = Object.freeze({ STATE: 0x81, TRACK: 0x82, AUDIO_IN: 0x83, STATS: 0x84, ERROR: 0x85, PONG: 0x86 });
const State = Object.freeze({ CONNECTING: 0, CONNECTED: 1, RECONNECTING: 2, DISCONNECTED: 3, FAILED: 4 });
const ErrorCode = Object.freeze({ BAD_LENGTH: 1, UNKNOWN_TYPE: 2, BAD_PAYLOAD: 3, UNKNOWN_SESSION: 4, INTERNAL: 5 });

function frame(type, session, payloadLength) {
  const buf = Buffer.allocUnsafe(HEADER + payloadLength);
  buf.writeUInt32LE(MIN_LENGTH + payloadLength, 0);
  buf.writeUInt8(type, 4);
  buf.writeUInt32LE(session >>> 0, 5);
  return buf;
}

function writeString(buf, offset, s) {
  const n = buf.write(s, offset + 2, 'utf8');
  buf.writeUInt16LE(n, offset);
  return offset + 2 + n;
}

function clip(s, max) {
  s = String(s ?? '');
  return s.length > max ? s.slice(0, max) : s;
}

/** A payload of one unsigned little-endian number (`bytes` wide) and then a string clipped to `max` characters. */
function numberAndText(type, session, bytes, number, text, max) {
  text = clip(text, max);
  const buf = frame(type, session, bytes + 2 + Buffer.byteLength(text));
  buf.writeUIntLE(number, HEADER, bytes);
  writeString(buf, HEADER + bytes, text);
  return buf;
}

/** state u8 | reason */
const encodeState = (session, state, reason) => numberAndText(Up.STATE, session, 1, state, reason, 500);

function encodeTrack(session, subscribed, identity, trackSid) {
  identity = clip(identity, 500);
  trackSid = clip(trackSid, 200);
  const buf = frame(Up.TRACK, session, 1 + 2 + Buffer.byteLength(identity) + 2 + Buffer.byteLength(trackSid));
  buf.writeUInt8(subscribed ? 1 : 0, HEADER);
  const o = writeString(buf, HEADER + 1, identity);
  writeString(buf, o, trackSid);
  return buf;
}

/** seq u32 | capture time i64 (unix microseconds) | 480 samples PCM16 LE */
function encodeAudioIn(session, seq, captureMicros, samples /* Int16Array(480) */) {
  const buf = frame(Up.AUDIO_IN, session, 4 + 8 + PCM_BYTES);
  buf.writeUInt32LE(seq >>> 0, HEADER);
  const micros = Math.round(captureMicros); // unix µs < 2^53: two u32 halves, no BigInt per frame
  buf.writeUInt32LE(micros % 0x100000000, HEADER + 4);
  buf.writeInt32LE(Math.floor(micros / 0x100000000), HEADER + 8);
  Buffer.from(samples.buffer, samples.byteOffset, PCM_BYTES).copy(buf, HEADER + 12);
  return buf;
}

/** A list of u64 counters; their order is the contract (see bridge/README.md and BridgeProtocol.cs). */
function encodeStats(session, values) {
  const buf = frame(Up.STATS, session, values.length * 8);
  for (let i = 0; i < values.length; i++) buf.writeBigUInt64LE(BigInt(Math.max(0, Math.floor(values[i]))), HEADER + i * 8);
  return buf;
}

/** code u16 | message */
const encodeError = (session, code, message) => numberAndText(Up.ERROR, session, 2, code, message, 1000);

function encodePong(session, payload) {
  const buf = frame(Up.PONG, session, payload.length);
  payload.copy(buf, HEADER);
  return buf;
}

/** Reads strings off a payload; throws RangeError on a truncated one (the caller counts it as BAD_PAYLOAD). */
class PayloadReader {
  constructor(buf) { this.buf = buf; this.offset = 0; }
  u8() { if (this.offset + 1 > this.buf.length) throw new RangeError('truncated'); return this.buf.readUInt8(this.offset++); }
  u16() { if (this.offset + 2 > this.buf.length) throw new RangeError('truncated'); const v = this.buf.readUInt16LE(this.offset); this.offset += 2; return v; }
  u32() { if (this.offset + 4 > this.buf.length) throw new RangeError('truncated'); const v = this.buf.readUInt32LE(this.offset); this.offset += 4; return v; }
  string() {
    const n = this.u16();
    if (this.offset + n > this.buf.length) throw new RangeError('truncated string');
    const s = this.buf.toString('utf8', this.offset, this.offset + n);
    this.offset += n;
    return s;
  }
  get remaining() { return this.buf.length - this.offset; }
}

/** Which lengths each silo -> bridge frame type may have: a header that fails this is not a header. */
function plausibleDown(type, length) {
  switch (type) {
    case Down.JOIN: return length >= MIN_LENGTH + 10;
    case Down.LEAVE: case Down.CLEAR: return length === MIN_LENGTH;
    case Down.AUDIO_OUT: return length === MIN_LENGTH + 4 + PCM_BYTES;
    case Down.PING: return length <= MIN_LENGTH + 64;
    case Down.DATA: return length >= MIN_LENGTH + 3; // flags, topic (may be empty), payload
    default: return false;
  }
}

/** DATA: u8 flags (bit 0: reliable) | topic | payload (the rest). Throws RangeError on a truncated one. */
function decodeData(payload) {
  const r = new PayloadReader(payload);
  const reliable = (r.u8() & 1) === 1;
  const topic = r.string();
  return { reliable, topic, data: payload.subarray(r.offset) };
}

/** The same check for bridge -> silo frames (used by the tests and tools that read the bridge's output). */
function plausibleUp(type, length) {
  switch (type) {
    case Up.STATE: return length >= MIN_LENGTH + 3;
    case Up.TRACK: return length >= MIN_LENGTH + 5;
    case Up.AUDIO_IN: return length === MIN_LENGTH + 12 + PCM_BYTES;
    case Up.STATS: return length > MIN_LENGTH && (length - MIN_LENGTH) % 8 === 0;
    case Up.ERROR: return length >= MIN_LENGTH + 4;
    case Up.PONG: return length <= MIN_LENGTH + 64;
    default: return false;
  }
}

/**
 * Incremental frame parser over a byte stream. A header whose length is out of range, or whose type is unknown or does not
 * fit its length, cannot start a frame: the reader skips a byte and looks again, and reports the skipped run once, so a
 * burst of noise costs one ERROR, not a crash and not a lost pipe (a plain length prefix alone could swallow good frames).
 */
class FrameReader {
  constructor(onFrame, onGarbage, plausible = plausibleDown) {
    this.onFrame = onFrame; // (type, session, payload Buffer) => void; payload is a view, valid during the call only
    this.onGarbage = onGarbage; // (skippedBytes, reason) => void
    this.plausible = plausible;
    this.pending = Buffer.alloc(0);
    this.skipping = 0;
    this.reason = '';
  }

  push(chunk) {
    let buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    let o = 0;
    while (buf.length - o >= 4) {
      const length = buf.readUInt32LE(o);
      if (length < MIN_LENGTH || length > MAX_LENGTH) {
        this.skip('bad length');
        o++;
        continue;
      }
      if (buf.length - o < 5) break;
      if (!this.plausible(buf.readUInt8(o + 4), length)) {
        this.skip(`unknown type 0x${buf.readUInt8(o + 4).toString(16)} or wrong length ${length} for it`);
        o++;
        continue;
      }
      if (buf.length - o < 4 + length) break;
      this.flushGarbage();
      const type = buf.readUInt8(o + 4);
      const session = buf.readUInt32LE(o + 5);
      this.onFrame(type, session, buf.subarray(o + HEADER, o + 4 + length));
      o += 4 + length;
    }
    this.flushGarbage();
    this.pending = o < buf.length ? Buffer.from(buf.subarray(o)) : Buffer.alloc(0);
  }

  skip(reason) {
    if (this.skipping++ === 0) this.reason = reason;
  }

  flushGarbage() {
    if (this.skipping === 0) return;
    const n = this.skipping;
    this.skipping = 0;
    this.onGarbage(n, this.reason);
  }
}

module.exports = {
  HEADER, MIN_LENGTH, MAX_LENGTH, SAMPLES, PCM_BYTES, Down, Up, State, ErrorCode,
  plausibleDown, plausibleUp, frame, writeString, encodeState, encodeTrack, encodeAudioIn, encodeStats, encodeError, encodePong, decodeData, PayloadReader, FrameReader,
};
