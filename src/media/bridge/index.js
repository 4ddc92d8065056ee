'use strict';
// The agent's media bridge: one process, many sessions, talking to its parent silo over stdin/stdout (see protocol.js).
// It exits when stdin ends, so it never outlives the silo. Logs go to stderr; tokens are never logged.

// stdout is the protocol: anything that would print there (rtc-node's pino logger, a stray console.log) goes to stderr.
const wire = process.stdout;
Object.defineProperty(process, 'stdout', { configurable: true, enumerable: true, get: () => process.stderr });
console.log = console.info = console.debug = console.error;

const { Down, ErrorCode, PCM_BYTES, FrameReader, PayloadReader, encodeError, encodePong, encodeStats, decodeData } = require('./protocol');
const { Uplink } = require('./uplink');

const env = (name, fallback) => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
};
const STATS_MS = env('BRIDGE_STATS_MS', 1000);
const OUT_QUEUE_FRAMES = env('BRIDGE_OUT_QUEUE_FRAMES', 500); // 10 s of agent audio ahead of the AudioSource: providers send faster than real time
const IN_QUEUE_FRAMES = env('BRIDGE_IN_QUEUE_FRAMES', 25); // 500 ms of candidate audio waiting for a slow silo
const DEFAULT_QUEUE_MS = env('BRIDGE_SOURCE_QUEUE_MS', 1000);
const MAX_DATA_BYTES = 15 * 1024; // livekit-client refuses bigger reliable messages
const FAKE_ROOMS = process.env.BRIDGE_FAKE_ROOMS === '1'; // tests of the pipe and the supervisor, no SFU

const log = (msg) => process.stderr.write(`[bridge ${process.pid}] ${msg}\n`);
const uplink = new Uplink(wire, { audioFrames: IN_QUEUE_FRAMES });
const sessions = new Map();
const counters = { garbage: 0, errors: 0, unknownSession: 0, framesDown: 0 };
let errorBudget = 0; // ERROR frames this second: counting never stops, reporting is limited to 20 a second
let stopping = false;

const SessionClass = FAKE_ROOMS ? require('./fake-session').FakeSession : require('./session').Session;

function report(session, code, message) {
  counters.errors++;
  if (errorBudget++ < 20) uplink.control(encodeError(session, code, message));
}

function onFrame(type, id, payload) {
  switch (type) {
    case Down.JOIN: return join(id, payload);
    case Down.LEAVE: return leave(id, 'left');
    case Down.AUDIO_OUT: {
      counters.framesDown++;
      const s = sessions.get(id);
      if (payload.length !== 4 + PCM_BYTES) return report(id, ErrorCode.BAD_PAYLOAD, `AUDIO_OUT of ${payload.length} bytes, expected ${4 + PCM_BYTES}`);
      if (!s) { counters.unknownSession++; return; } // audio racing a LEAVE: counted, not an error
      return s.enqueueOut(payload.subarray(4));
    }
    case Down.CLEAR: {
      const s = sessions.get(id);
      if (s) s.clear(); else counters.unknownSession++;
      return;
    }
    case Down.PING: return uplink.control(encodePong(id, payload));
    case Down.DATA: {
      let d;
      try {
        d = decodeData(payload);
      } catch (e) {
        counters.garbage++;
        return report(id, ErrorCode.BAD_PAYLOAD, `DATA payload: ${e.message}`);
      }
      if (d.data.length === 0 || d.data.length > MAX_DATA_BYTES) return report(id, ErrorCode.BAD_PAYLOAD, `DATA of ${d.data.length} bytes (1 to ${MAX_DATA_BYTES})`);
      const s = sessions.get(id);
      if (!s) { counters.unknownSession++; return; }
      return s.publishData(d.topic, d.data, d.reliable);
    }
    default:
      counters.garbage++;
      return report(id, ErrorCode.UNKNOWN_TYPE, `unknown frame type 0x${type.toString(16)} (${payload.length} bytes)`);
  }
}

function join(id, payload) {
  let j;
  try {
    const r = new PayloadReader(payload);
    j = { url: r.string(), token: r.string(), identity: r.string(), name: r.string(), candidate: r.string() };
    j.queueMs = r.remaining >= 2 ? r.u16() : DEFAULT_QUEUE_MS;
    j.autoSubscribe = r.remaining >= 1 ? (r.u8() & 1) === 1 : false;
  } catch (e) {
    counters.garbage++;
    return report(id, ErrorCode.BAD_PAYLOAD, `JOIN payload: ${e.message}`);
  }
  if (j.queueMs % 10 !== 0) return report(id, ErrorCode.BAD_PAYLOAD, `JOIN queue ${j.queueMs} ms is not a multiple of 10`);
  const old = sessions.get(id);
  if (old) old.close('replaced by a new JOIN');
  const s = new SessionClass(id, j, uplink, { outQueueFrames: OUT_QUEUE_FRAMES }, log);
  sessions.set(id, s);
  log(`session ${s.name} (#${id}) joining ${j.url} as ${j.identity}, queue ${j.queueMs} ms`);
  s.start().catch((e) => report(id, ErrorCode.INTERNAL, `start: ${e && e.message}`));
}

function leave(id, reason) {
  const s = sessions.get(id);
  if (!s) return;
  sessions.delete(id);
  const sent = s.framesOut;
  s.close(reason).finally(() => {
    uplink.forget(id);
    log(`session ${s.name} (#${id}) left: ${sent} frames out, ${s.framesIn} in, ${s.dropsOut} dropped out`);
  });
}

let lastCpu = process.cpuUsage();
function stats() {
  errorBudget = 0;
  const mem = process.memoryUsage();
  const cpu = process.cpuUsage();
  lastCpu = cpu;
  // process (session 0): rss, heapUsed, cpuUserMicros, cpuSystemMicros, sessions, garbage, errors, unknownSession, framesDown, controlDrops
  uplink.control(encodeStats(0, [mem.rss, mem.heapUsed, cpu.user, cpu.system, sessions.size, counters.garbage, counters.errors,
    counters.unknownSession, counters.framesDown, uplink.controlDrops]));
  // session: framesIn, framesOut, outQueueDepth, dropsOut, inQueueDepth, dropsIn, sourceQueuedMs, clears, dataSent, dataDropped
  for (const s of sessions.values()) {
    uplink.control(encodeStats(s.id, [s.framesIn, s.framesOut, s.outQueue.length, s.dropsOut, uplink.depthOf(s.id),
      uplink.dropsOf(s.id), s.queuedMs(), s.clears, s.dataSent, s.dataDropped]));
  }
}

async function shutdown(why) {
  if (stopping) return;
  stopping = true;
  log(`stopping: ${why}; ${sessions.size} sessions`);
  if (!FAKE_ROOMS) log(`ffi events: ${JSON.stringify(require('./ffi-hub').counters)}`); // routed by the hub vs decoded for rtc-node
  const closing = [...sessions.values()].map((s) => s.close('bridge stopping'));
  sessions.clear();
  // a room that will not disconnect must not keep the process alive after its silo is gone
  await Promise.race([Promise.allSettled(closing), new Promise((r) => setTimeout(r, 2000).unref())]);
  if (!FAKE_ROOMS) {
    try { await require('@livekit/rtc-node').dispose(); } catch { /* exiting anyway */ }
  }
  process.exit(0);
}

const reader = new FrameReader(onFrame, (skipped, reason) => {
  counters.garbage++;
  report(0, ErrorCode.BAD_LENGTH, `garbage on the pipe (${reason}): skipped ${skipped} bytes`);
});
process.stdin.on('data', (chunk) => {
  try {
    reader.push(chunk);
  } catch (e) {
    report(0, ErrorCode.INTERNAL, `reader: ${e && e.message}`);
  }
});
process.stdin.on('end', () => shutdown('stdin closed'));
process.stdin.on('error', () => shutdown('stdin error'));
wire.on('error', () => shutdown('stdout closed'));
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('uncaughtException', (e) => report(0, ErrorCode.INTERNAL, `uncaught: ${e && e.message}`));
process.on('unhandledRejection', (e) => report(0, ErrorCode.INTERNAL, `unhandled: ${e && e.message}`));
setInterval(stats, STATS_MS);
stats();
log(`ready (node ${process.version}, fake rooms: ${FAKE_ROOMS})`);
