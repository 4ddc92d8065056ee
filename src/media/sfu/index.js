#!/usr/bin/env node
'use strict';
/*
 * The LiveKit stand-in SFU: a Node process that the official clients (livekit-client, @livekit/rtc-node) join as if it
 * were a LiveKit server. Audio only; Opus RTP is forwarded untouched from each publisher to every other subscriber.
 * Its parent (the C# LiveKitStandIn) stays the one source of truth for rooms, webhooks and the RoomService API; this
 * process only carries media and reports what happens.
 *
 * Usage: node src/media/sfu/index.js [--port 0] [--host 127.0.0.1] [--max-participants-per-room 16]
 *          [--max-tracks-per-participant 4] [--max-connections 512] [--stats-interval-ms 5000] [--signal-grace-ms 15000]
 *          [--serve-api [--webhook-url URL]… [--keys-file keys.json]]
 *
 * Two ways to run it:
 *   - the child of the C# stand-in (embedded defaults, LiveKit:StandInSfu): media only; rooms, RoomService and webhooks
 *     stay in its parent, and it exits when its stdin closes;
 *   - a LiveKit server of its own (--serve-api, see service.js): it also answers RoomService on its port and posts signed
 *     webhooks to every --webhook-url, so several silos configured with its URL and keys (LiveKit:Url) share it, and it
 *     outlives any of them. Each event goes to every URL, as LiveKit's `webhook.urls`; a session applies each event id once,
 *     so listing every silo's receiver is how the events reach whichever silos are alive. --keys-file ({"key":"secret"})
 *     keys it without a parent; it then keeps running when stdin closes.
 *
 * Control channel: newline-delimited JSON on stdio. Logs go to stderr only. The process exits when stdin closes.
 *   Parent → SFU (stdin). Any op may carry "id"; the SFU then answers {"ev":"ack","id":..,"ok":bool}.
 *     {"op":"keys","keys":{"<apiKey>":"<secret>"}}   replaces the accepted keys. Secrets come only this way, never argv/env,
 *                                                    and are never printed. "listening" is sent after the first keys.
 *     {"op":"remove","room":R,"identity":I}          evicts a participant (LeaveRequest reason PARTICIPANT_REMOVED)
 *     {"op":"close_room","room":R}                   evicts everyone (reason ROOM_DELETED)
 *     {"op":"mute","room":R,"identity":I,"trackSid":T,"muted":bool}  server-side mute; the track's RTP stops flowing
 *     {"op":"drop_signal","room":R,"identity":I}     fault injection: closes the signal socket without a leave
 *   SFU → parent (stdout):
 *     {"ev":"listening","port":N,"host":H,"url":"ws://H:N"}   once bound and keyed
 *     {"ev":"participant_joined","room","roomSid","sid","identity","name","kind","metadata","hidden","joinedAt"(ms),
 *      "attributes":{…},"canPublish","canSubscribe","canPublishData"}
 *     {"ev":"participant_left","room","roomSid","sid","identity","reason"}   reason: client_initiated | signal_closed |
 *                                                   duplicate_identity | removed | room_deleted | ping_timeout
 *     {"ev":"track_published"|"track_unpublished","room","identity","participantSid","trackSid","type":"audio",
 *      "source":"microphone",…,"mimeType":"audio/opus"}
 *     {"ev":"stats", counters…}                       every --stats-interval-ms
 *     {"ev":"ack","id","ok","error"?}
 *
 * Data (LiveKit's DataPacket): what a client publishes on its publisher PC's `_reliable` / `_lossy` data channel is relayed
 * to the others on their subscriber PC's channel of the same kind, stamped with the sender's sid and identity.
 *
 * Each participant gets a refresh token (its own claims re-signed, 10 min) at join and every 5 min, as LiveKit sends them.
 *
 * Signal protocol (LiveKit v0, livekit/livekit pkg/service/rtcservice.go): WebSocket on /rtc, binary protobuf
 * SignalRequest/SignalResponse. Token as ?access_token= or Authorization: Bearer; HS256 with the secret of the key in
 * `iss`; roomJoin grant required; an optional ?room= must equal the grant's room. GET /rtc/validate answers 200/401;
 * /rtc/v1 and /rtc/v1/validate answer 404 so the clients fall back to v0. CORS allows every origin, as LiveKit does.
 * A signal socket that drops without a leave does not end the participation: the participant stays in its room (its media
 * keeps flowing) for --signal-grace-ms, and a resume (reconnect=1&sid=PA_…, same identity and room) within it takes the
 * participant back: ReconnectResponse, then the client's ICE-restart offer is answered; no participant_left, no new join.
 * Past the grace the participant leaves with reason signal_closed. A resume of an unknown or expired participant is answered
 * with LeaveRequest{action: RECONNECT}: the client then does a full reconnect (a new join).
 */
const http = require('http');
const { WebSocketServer } = require('ws');
const proto = require('@livekit/protocol');
const fs = require('fs');
const { verifyToken, tokenOf, refreshToken, AuthError } = require('./auth');
const { Room, Participant, newId } = require('./room');
const { RoomService, Webhooks } = require('./service');

const REASONS = {
  client_initiated: proto.DisconnectReason.CLIENT_INITIATED,
  duplicate_identity: proto.DisconnectReason.DUPLICATE_IDENTITY,
  removed: proto.DisconnectReason.PARTICIPANT_REMOVED,
  room_deleted: proto.DisconnectReason.ROOM_DELETED,
  ping_timeout: proto.DisconnectReason.SIGNAL_CLOSE,
};
const MAX_SIGNAL_BYTES = 256 * 1024;
const MAX_SIGNAL_MESSAGES_PER_S = 200;
const PING_TIMEOUT_MS = 15_000;
// LiveKit sends each participant a refresh token at join and every 5 minutes, valid for 10 (participant.go).
const REFRESH_TOKEN_TTL_S = 600;
const REFRESH_INTERVAL_MS = 5 * 60_000;
const PROTOCOL_CLOSE_CODES = new Set([1002, 1003, 1007, 1008, 1009]);

function parseArgs(argv) {
  // signalGraceMs: how long a participant whose signal socket dropped stays in its room for the client to resume; LiveKit
  // keeps it until its ping timeout (15 s) runs out, so that is the default. 0 removes it at once.
  const o = { port: 0, host: '127.0.0.1', maxParticipantsPerRoom: 16, maxTracksPerParticipant: 4, maxConnections: 512, statsIntervalMs: 5000,
    signalGraceMs: PING_TIMEOUT_MS, serveApi: false, webhookUrls: [], keysFile: null };
  const names = { '--port': 'port', '--host': 'host', '--max-participants-per-room': 'maxParticipantsPerRoom',
    '--max-tracks-per-participant': 'maxTracksPerParticipant', '--max-connections': 'maxConnections', '--stats-interval-ms': 'statsIntervalMs',
    '--signal-grace-ms': 'signalGraceMs' };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--debug') {
      o.debug = true; // logs each signal message kind (never its content)
      continue;
    }
    if (argv[i] === '--serve-api') {
      o.serveApi = true; // a LiveKit server of its own: RoomService and webhooks (service.js)
      continue;
    }
    if ((argv[i] === '--webhook-url' || argv[i] === '--keys-file') && i + 1 < argv.length) {
      const v = argv[++i];
      if (argv[i - 1] === '--keys-file') o.keysFile = v;
      else if (/^https?:\/\//.test(v)) o.webhookUrls.push(v);
      else throw new Error('--webhook-url needs an http(s) URL');
      continue;
    }
    const key = names[argv[i]];
    if (!key || i + 1 >= argv.length) throw new Error(`unknown or incomplete argument: ${argv[i]}`);
    const v = argv[++i];
    o[key] = key === 'host' ? v : Number(v);
    if (key !== 'host' && !(Number.isInteger(o[key]) && o[key] >= 0)) throw new Error(`${argv[i - 1]} needs a whole number`);
  }
  return o;
}

class Sfu {
  constructor(options) {
    this.options = options;
    this.limits = { maxParticipantsPerRoom: options.maxParticipantsPerRoom, maxTracksPerParticipant: options.maxTracksPerParticipant };
    this.keys = new Map();
    this.rooms = new Map();
    this.nodeId = newId('ND_');
    this.iceHosts = options.host === '0.0.0.0' ? undefined : ['127.0.0.1'];
    this.connections = 0;
    this.debug = options.debug;
    this.api = options.serveApi ? new RoomService(this) : null;
    this.webhooks = new Webhooks(this, options.serveApi ? options.webhookUrls : []);
    this.stats = {
      api_calls: 0, webhooks_sent: 0, webhook_retries: 0, webhooks_refused: 0, webhooks_abandoned: 0, webhooks_dropped: 0, rooms_closed: 0,
      joins: 0, joins_refused: 0, auth_failures: 0, resumes: 0, resumes_refused: 0, signal_lost: 0, grace_expired: 0, ice_restarts: 0, duplicate_identity: 0, tracks_published: 0,
      tracks_refused: 0, garbage_frames: 0, rate_limited: 0, signal_in: 0, signal_out: 0, rtp_in: 0, rtp_out: 0, errors: 0,
      data_in: 0, data_out: 0, data_garbage: 0, data_refused: 0, data_rate_limited: 0, data_dropped: 0,
    };
  }

  log(...args) {
    process.stderr.write(`[sfu] ${args.join(' ')}\n`);
  }

  emit(event) {
    process.stdout.write(JSON.stringify(event) + '\n');
  }

  // ---- HTTP ----

  cors(res) {
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
    res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type, *');
  }

  onRequest(req, res) {
    this.cors(res);
    const url = safeUrl(req.url);
    const text = (status, body) => {
      res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(body);
    };
    if (req.method === 'OPTIONS') return text(204, '');
    if (!url) return text(400, 'bad request');
    if (this.api && this.api.handles(url.pathname)) return this.api.serve(req, res, url.pathname);
    switch (url.pathname) {
      case '/':
        return text(200, 'OK');
      case '/rtc/validate': {
        const r = this.authorize(url, req.headers);
        return r.error ? text(r.error.status, r.error.message) : text(200, 'success');
      }
      default:
        return text(404, 'not found'); // /rtc/v1 and /rtc/v1/validate included: the clients fall back to v0
    }
  }

  authorize(url, headers) {
    try {
      const grant = verifyToken(tokenOf(url, headers), this.keys);
      const room = url.searchParams.get('room');
      if (room && room !== grant.room) throw new AuthError(401, 'permissions denied: the token is for another room');
      return { grant };
    } catch (e) {
      if (!(e instanceof AuthError)) throw e;
      this.stats.auth_failures++;
      return { error: e };
    }
  }

  onUpgrade(req, socket, head) {
    socket.on('error', () => undefined);
    const url = safeUrl(req.url);
    const refuse = (status, message) => {
      const body = message + '\n';
      socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: text/plain\r\nAccess-Control-Allow-Origin: *\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    };
    if (!url || url.pathname !== '/rtc') return refuse(404, 'not found');
    const { grant, error } = this.authorize(url, req.headers);
    if (error) return refuse(error.status, error.message);
    const sid = url.searchParams.get('sid') || '';
    if (this.connections >= this.options.maxConnections) {
      this.stats.joins_refused++;
      return refuse(503, 'too many connections');
    }
    const reconnect = url.searchParams.get('reconnect') === '1' || url.searchParams.get('reconnect') === 'true';
    const room = this.rooms.get(grant.room);
    const replacing = room && room.participants.has(grant.identity);
    if (!reconnect && !replacing && room && room.participants.size >= this.limits.maxParticipantsPerRoom) {
      this.stats.joins_refused++;
      this.log(`join refused: room full (${this.limits.maxParticipantsPerRoom})`);
      return refuse(429, 'room is full');
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onSocket(ws, grant, reconnect, sid));
  }

  onSocket(ws, grant, reconnect, sid) {
    this.connections++;
    ws.on('close', () => this.connections--);
    ws.on('error', () => undefined);
    const resumable = reconnect && this.rooms.get(grant.room)?.participants.get(grant.identity);
    if (resumable && !resumable.closed && resumable.sid === sid) {
      // The same participant, back within its grace: its PCs, tracks and subscriptions are where it left them.
      this.stats.resumes++;
      this.attachSignal(resumable, ws);
      resumable.resume();
      return;
    }
    if (reconnect) {
      // No resume here: the client then does a full reconnect (a new join with the same identity).
      this.stats.resumes_refused++;
      ws.send(new proto.SignalResponse({ message: { case: 'leave', value: new proto.LeaveRequest({
        canReconnect: true, reason: proto.DisconnectReason.STATE_MISMATCH, action: proto.LeaveRequest_Action.RECONNECT }) } }).toBinary());
      setTimeout(() => ws.close(1000), 200).unref();
      return;
    }
    const room = this.createRoom(grant.room, { apiKey: grant.apiKey }); // a join on an unknown room creates it, as LiveKit does
    const older = room.participants.get(grant.identity);
    if (older) {
      this.stats.duplicate_identity++;
      this.removeParticipant(older, 'duplicate_identity');
    }
    if (room.participants.size >= (room.maxParticipants || this.limits.maxParticipantsPerRoom)) {
      this.stats.joins_refused++;
      ws.close(1013, 'room is full');
      return;
    }
    const p = new Participant(this, room, grant, ws);
    room.participants.set(p.identity, p);
    room.everJoined = true;
    this.stats.joins++;
    this.attachSignal(p, ws);
    p.sendJoin();
    this.sendRefreshToken(p);
    p.refreshTimer = setInterval(() => this.sendRefreshToken(p), REFRESH_INTERVAL_MS);
    p.refreshTimer.unref();
    this.emit({
      ev: 'participant_joined', room: room.name, roomSid: room.sid, sid: p.sid, identity: p.identity, name: p.name,
      kind: p.kindName, metadata: p.metadata, hidden: p.hidden, joinedAt: p.joinedAt, attributes: p.attributes,
      canPublish: p.grant.canPublish, canSubscribe: p.grant.canSubscribe, canPublishData: p.grant.canPublishData,
    });
    this.webhooks.notify('participant_joined', room, p);
    room.broadcastUpdate(p);
  }

  sendRefreshToken(p) {
    if (p.closed) return clearInterval(p.refreshTimer);
    const token = refreshToken(p.grant, this.keys, REFRESH_TOKEN_TTL_S);
    if (token) p.send('refreshToken', token); // a participant without a socket (in its grace) gets the next one
  }

  /** Makes `ws` the participant's signal socket: its messages are handled, and its loss starts the grace period. */
  attachSignal(p, ws) {
    const older = p.ws;
    p.ws = ws;
    p.lastSeen = Date.now();
    if (p.graceTimer) {
      clearTimeout(p.graceTimer);
      p.graceTimer = null;
    }
    if (older && older !== ws) older.terminate(); // a resume while the old socket still looked open
    let violated = false;
    ws.on('error', (e) => {
      if (e && typeof e.code === 'string' && e.code.startsWith('WS_ERR_')) violated = true; // too big, bad framing: not a lost network
    });
    let windowStart = Date.now();
    let inWindow = 0;
    ws.on('message', (data, isBinary) => {
      if (p.closed || p.ws !== ws) return;
      const now = Date.now();
      if (now - windowStart >= 1000) {
        windowStart = now;
        inWindow = 0;
      }
      if (++inWindow > MAX_SIGNAL_MESSAGES_PER_S) {
        this.stats.rate_limited++;
        return;
      }
      let req;
      try {
        if (!isBinary) throw new Error('text frame');
        req = proto.SignalRequest.fromBinary(new Uint8Array(data));
      } catch {
        this.stats.garbage_frames++;
        this.log(`participant ${p.sid}: undecodable signal frame; closing its socket`);
        this.removeParticipant(p, 'signal_closed');
        return;
      }
      this.stats.signal_in++;
      try {
        p.handle(req);
      } catch (e) {
        this.stats.errors++;
        this.log(`participant ${p.sid}: ${e.message}`);
      }
    });
    ws.on('close', (code) => {
      if (p.closed || p.ws !== ws) return; // a socket replaced by a resume, or a participant already gone
      p.ws = null;
      // A socket closed for a protocol violation (oversized, malformed) ends the participation; a lost one gets the grace.
      if (this.options.signalGraceMs <= 0 || violated || PROTOCOL_CLOSE_CODES.has(code)) return this.removeParticipant(p, 'signal_closed');
      this.stats.signal_lost++;
      p.graceTimer = setTimeout(() => {
        p.graceTimer = null;
        if (!p.ws && !p.closed) {
          this.stats.grace_expired++;
          this.removeParticipant(p, 'signal_closed');
        }
      }, this.options.signalGraceMs);
      p.graceTimer.unref();
    });
  }

  /** Removes `p` from its room: the client is told why, the others get its DISCONNECTED update and lose its tracks. */
  removeParticipant(p, reason) {
    if (p.closed) return;
    if (p.graceTimer) {
      clearTimeout(p.graceTimer);
      p.graceTimer = null;
    }
    clearInterval(p.refreshTimer);
    const room = p.room;
    p.close(reason === 'signal_closed' ? undefined : REASONS[reason]);
    if (room.participants.get(p.identity) === p) room.participants.delete(p.identity);
    for (const t of p.tracks.values()) {
      for (const other of room.participants.values()) other.unsubscribe(t.info.sid, true);
      this.emit({ ev: 'track_unpublished', room: room.name, identity: p.identity, participantSid: p.sid, trackSid: t.info.sid,
        type: 'audio', source: 'microphone', mimeType: 'audio/opus' });
      this.webhooks.notify('track_unpublished', room, p, t.info);
    }
    room.broadcastUpdate(p);
    this.emit({ ev: 'participant_left', room: room.name, roomSid: room.sid, sid: p.sid, identity: p.identity, reason });
    this.webhooks.notify('participant_left', room, p);
    if (room.participants.size > 0) return;
    room.emptySince = Date.now();
    if (!this.api && this.rooms.get(room.name) === room) this.rooms.delete(room.name); // serving the API: the room sweep decides
  }

  /** The room named `name`, created (room_started) when missing; CreateRoom is idempotent by name, as LiveKit's. */
  createRoom(name, options) {
    const existing = this.rooms.get(name);
    if (existing) return existing;
    const room = new Room(this, name, this.api ? options : { apiKey: options.apiKey });
    this.rooms.set(name, room);
    this.webhooks.notify('room_started', room);
    return room;
  }

  /** DeleteRoom: everyone is evicted (ROOM_DELETED), then room_finished. */
  deleteRoom(room) {
    for (const p of [...room.participants.values()]) this.removeParticipant(p, 'room_deleted');
    if (this.rooms.get(room.name) === room) this.rooms.delete(room.name);
    this.stats.rooms_closed++;
    this.webhooks.notify('room_finished', room);
  }

  /** Serving the API: an empty room closes after its departure timeout, or its empty timeout when nobody ever joined (LiveKit). */
  roomSweep() {
    const now = Date.now();
    for (const room of [...this.rooms.values()]) {
      if (room.participants.size > 0) continue;
      const timeout = (room.everJoined ? room.departureTimeout : room.emptyTimeout) * 1000;
      if (now - room.emptySince >= timeout) this.deleteRoom(room);
    }
  }

  // ---- control channel ----

  onControl(line) {
    if (!line.trim()) return;
    let msg;
    try {
      msg = JSON.parse(line);
    } catch {
      this.log('control: not JSON; ignored');
      return;
    }
    let ok = true;
    let error;
    try {
      ok = this.control(msg);
    } catch (e) {
      ok = false;
      error = e.message;
    }
    if (msg && msg.id !== undefined) this.emit(error ? { ev: 'ack', id: msg.id, ok, error } : { ev: 'ack', id: msg.id, ok });
  }

  control(msg) {
    const find = () => this.rooms.get(msg.room)?.participants.get(msg.identity);
    switch (msg && msg.op) {
      case 'keys': {
        if (!msg.keys || typeof msg.keys !== 'object') throw new Error('keys needs an object of apiKey → secret');
        this.keys = new Map(Object.entries(msg.keys).filter(([k, v]) => k && typeof v === 'string' && v));
        this.onKeyed?.();
        return true;
      }
      case 'remove': {
        const p = find();
        if (p) this.removeParticipant(p, 'removed');
        return !!p;
      }
      case 'close_room': {
        const room = this.rooms.get(msg.room);
        if (!room) return false;
        for (const p of [...room.participants.values()]) this.removeParticipant(p, 'room_deleted');
        return true;
      }
      case 'mute': {
        const p = find();
        return !!p && p.setMuted(msg.trackSid, msg.muted === true, true);
      }
      case 'drop_signal': {
        const p = find();
        if (p && p.ws) p.ws.terminate();
        return !!p;
      }
      default:
        throw new Error(`unknown op ${JSON.stringify(msg && msg.op)}`);
    }
  }

  pingSweep() {
    const now = Date.now();
    for (const room of [...this.rooms.values()])
      for (const p of [...room.participants.values()]) if (p.ws && now - p.lastSeen > PING_TIMEOUT_MS) this.removeParticipant(p, 'ping_timeout'); // no socket: the grace timer decides
  }

  snapshot() {
    let participants = 0;
    let tracks = 0;
    for (const room of this.rooms.values())
      for (const p of room.participants.values()) {
        participants++;
        tracks += p.tracks.size;
      }
    return { ev: 'stats', rooms: this.rooms.size, participants, tracks, connections: this.connections, ...this.stats };
  }

  start() {
    this.wss = new WebSocketServer({ noServer: true, maxPayload: MAX_SIGNAL_BYTES, perMessageDeflate: false });
    this.server = http.createServer((req, res) => {
      try {
        this.onRequest(req, res);
      } catch (e) {
        this.stats.errors++;
        this.log('request failed:', e.message);
        if (!res.headersSent) res.writeHead(500);
        res.end();
      }
    });
    this.server.on('upgrade', (req, socket, head) => {
      try {
        this.onUpgrade(req, socket, head);
      } catch (e) {
        this.stats.errors++;
        this.log('upgrade failed:', e.message);
        socket.destroy();
      }
    });
    this.server.on('clientError', (_e, socket) => socket.destroy());
    const bound = new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.host, resolve);
    });
    const keyed = new Promise((resolve) => (this.onKeyed = resolve));
    Promise.all([bound, keyed]).then(() => {
      const { port } = this.server.address();
      const host = this.options.host.includes(':') ? `[${this.options.host}]` : this.options.host;
      this.emit({ ev: 'listening', port, host: this.options.host, url: `ws://${host}:${port}` });
      this.log(`listening on ${host}:${port}`);
    }, (e) => {
      this.log('cannot listen:', e.message);
      process.exit(2);
    });
    setInterval(() => this.pingSweep(), 5000).unref();
    if (this.api) setInterval(() => this.roomSweep(), 1000).unref();
    if (this.options.statsIntervalMs > 0) setInterval(() => this.emit(this.snapshot()), this.options.statsIntervalMs).unref();
  }
}

function safeUrl(raw) {
  try {
    return new URL(raw, 'http://sfu.invalid');
  } catch {
    return null;
  }
}

function main() {
  let options;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`[sfu] ${e.message}\n`);
    process.exit(64);
  }
  const sfu = new Sfu(options);
  // Bad input must never take the process down; the cause is logged (never a token: URLs are not logged).
  process.on('uncaughtException', (e) => {
    sfu.stats.errors++;
    sfu.log('uncaught:', e && e.message);
  });
  process.on('unhandledRejection', (e) => {
    sfu.stats.errors++;
    sfu.log('unhandled rejection:', e && e.message);
  });
  let buffered = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk) => {
    buffered += chunk;
    if (buffered.length > 1024 * 1024) buffered = ''; // a runaway line is dropped, not kept
    let nl;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      sfu.onControl(line);
    }
  });
  // A child never outlives its parent; a server keyed from a file (--keys-file) runs until it is stopped.
  const onStdinGone = () => { if (!options.keysFile) process.exit(0); };
  process.stdin.on('end', onStdinGone);
  process.stdin.on('error', onStdinGone);
  sfu.start();
  if (options.keysFile) {
    try {
      sfu.control({ op: 'keys', keys: JSON.parse(fs.readFileSync(options.keysFile, 'utf8')) });
    } catch (e) {
      sfu.log(`cannot read --keys-file: ${e instanceof SyntaxError ? 'not JSON' : e.code || e.message}`); // never its content
      process.exit(64);
    }
  }
}

if (require.main === module) main();
module.exports = { Sfu, parseArgs };
