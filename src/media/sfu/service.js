'use strict';
/*
 * What makes the stand-in SFU a LiveKit server of its own (--serve-api): LiveKit's RoomService over Twirp on the signal port
 * and signed webhooks to the configured URLs, so a cluster of silos configured with LiveKit:Url (the same URL and keys on
 * every silo) uses it exactly as it would use LiveKit. Without --serve-api the SFU is the child of the C# stand-in, which keeps
 * rooms, the API and webhooks itself.
 *
 * RoomService (livekit/protocol livekit_room.twirp.go, livekit/livekit pkg/service/roomservice.go, auth.go):
 *   POST /twirp/livekit.RoomService/<Method>, JSON (application/json) or binary (application/protobuf) bodies, Bearer token
 *   (HS256, the secret of the key in `iss`); a bad token is a bare 401 in plain text (the auth middleware runs before Twirp);
 *   grants as LiveKit checks them: roomCreate (CreateRoom, DeleteRoom), roomList (ListRooms), roomAdmin for the named room
 *   (the rest). JSON answers use proto field names and emit every field, as LiveKit's server does.
 * Webhooks (livekit/protocol webhook/resource_url_notifier.go): POST of protojson(WebhookEvent), `Content-Type:
 *   application/webhook+json`, `Authorization: <raw JWT>` whose `sha256` claim is base64(SHA-256(body)), signed with the key the
 *   room was created with. Every event goes to every configured URL (LiveKit's `webhook.urls`), in order per URL, 5 attempts
 *   with backoff 1, 2, 4, 8 s on connection errors and 5xx (not 501) and 429, a 4xx not retried, events older than 30 s dropped.
 */
const crypto = require('crypto');
const proto = require('@livekit/protocol');
const { verifyJwt, AuthError } = require('./auth');

const PREFIX = '/twirp/livekit.RoomService/';
const MAX_BODY_BYTES = 1024 * 1024;
const MAX_METADATA_BYTES = 64_000;
const WEBHOOK_ATTEMPTS = 5;
const WEBHOOK_MAX_AGE_MS = 30_000;
const WEBHOOK_MAX_DEPTH = 200;
const WEBHOOK_TOKEN_TTL_S = 300;
const WEBHOOK_TIMEOUT_MS = 10_000;

class TwirpError extends Error {
  constructor(status, code, message, meta) {
    super(message);
    this.status = status;
    this.code = code;
    this.meta = meta;
  }
}

const notFound = (what) => new TwirpError(404, 'not_found', what);

/** RPC name → [request type, permission check, handler]. */
function methods(sfu) {
  const room = (name) => sfu.rooms.get(name) || null;
  const admin = (req) => (video) => video.roomAdmin === true && video.room === req.room;
  return {
    CreateRoom: [proto.CreateRoomRequest, () => (v) => v.roomCreate === true, (req, claims) => {
      if (!req.name) throw new TwirpError(400, 'invalid_argument', 'room name is required', { argument: 'name' });
      if (req.name.length > 256) throw new TwirpError(400, 'invalid_argument', 'room name exceeds limits');
      if (Buffer.byteLength(req.metadata || '') > MAX_METADATA_BYTES) throw new TwirpError(400, 'invalid_argument', 'metadata size exceeds limit');
      return sfu.createRoom(req.name, {
        emptyTimeout: req.emptyTimeout, departureTimeout: req.departureTimeout, maxParticipants: req.maxParticipants,
        metadata: req.metadata, apiKey: claims.iss,
      }).info(); // idempotent by name, as LiveKit's
    }],
    ListRooms: [proto.ListRoomsRequest, () => (v) => v.roomList === true, (req) => new proto.ListRoomsResponse({
      rooms: [...sfu.rooms.values()].filter((r) => req.names.length === 0 || req.names.includes(r.name)).map((r) => r.info()),
    })],
    DeleteRoom: [proto.DeleteRoomRequest, () => (v) => v.roomCreate === true, (req) => {
      const r = room(req.room);
      if (!r) throw notFound('requested room does not exist');
      sfu.deleteRoom(r);
      return new proto.DeleteRoomResponse();
    }],
    ListParticipants: [proto.ListParticipantsRequest, admin, (req) => {
      const r = room(req.room);
      if (!r) throw notFound('requested room does not exist');
      return new proto.ListParticipantsResponse({ participants: [...r.participants.values()].map((p) => p.info()) });
    }],
    GetParticipant: [proto.RoomParticipantIdentity, admin, (req) => {
      const p = room(req.room)?.participants.get(req.identity);
      if (!p) throw notFound('participant not found');
      return p.info();
    }],
    RemoveParticipant: [proto.RoomParticipantIdentity, admin, (req) => {
      const p = room(req.room)?.participants.get(req.identity);
      if (!p) throw notFound('participant not found');
      sfu.removeParticipant(p, 'removed');
      return new proto.RemoveParticipantResponse();
    }],
    MutePublishedTrack: [proto.MuteRoomTrackRequest, admin, (req) => {
      const p = room(req.room)?.participants.get(req.identity);
      if (!p || !p.setMuted(req.trackSid, req.muted, true)) throw notFound('track not found');
      return new proto.MuteRoomTrackResponse({ track: p.tracks.get(req.trackSid)?.info });
    }],
    UpdateRoomMetadata: [proto.UpdateRoomMetadataRequest, admin, (req) => {
      const r = room(req.room);
      if (!r) throw notFound('requested room does not exist');
      if (Buffer.byteLength(req.metadata) > MAX_METADATA_BYTES)
        throw new TwirpError(400, 'invalid_argument', `metadata size exceeds limit of ${MAX_METADATA_BYTES}`, { argument: 'metadata' });
      r.metadata = req.metadata;
      for (const p of r.participants.values()) p.send('roomUpdate', new proto.RoomUpdate({ room: r.info() }));
      return r.info();
    }],
    SendData: [proto.SendDataRequest, admin, (req) => {
      if (req.nonce.length !== 0 && req.nonce.length !== 16) throw new TwirpError(400, 'invalid_argument', 'nonce should be 16-bytes or not present');
      const r = room(req.room);
      if (!r) throw notFound('requested room does not exist');
      const reliable = req.kind !== proto.DataPacket_Kind.LOSSY;
      const packet = new proto.DataPacket({
        kind: req.kind, destinationIdentities: req.destinationIdentities,
        value: { case: 'user', value: new proto.UserPacket({ payload: req.data, topic: req.topic, destinationIdentities: req.destinationIdentities }) },
      });
      const bytes = Buffer.from(packet.toBinary());
      for (const p of r.participants.values())
        if (req.destinationIdentities.length === 0 || req.destinationIdentities.includes(p.identity)) p.sendData(bytes, reliable);
      return new proto.SendDataResponse();
    }],
  };
}

class RoomService {
  constructor(sfu) {
    this.sfu = sfu;
    this.methods = methods(sfu);
  }

  handles(pathname) {
    return pathname.startsWith(PREFIX);
  }

  /** Answers one HTTP request on a Twirp route. */
  serve(req, res, pathname) {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) req.destroy();
      else chunks.push(c);
    });
    req.on('end', () => {
      try {
        this.answer(req, res, pathname, Buffer.concat(chunks));
      } catch (e) {
        this.sfu.stats.errors++;
        this.sfu.log('room service:', e.message);
        if (!res.headersSent) twirp(res, new TwirpError(500, 'internal', 'internal error'));
      }
    });
  }

  answer(req, res, pathname, body) {
    // LiveKit's auth middleware: a present but bad token is a plain-text 401 before Twirp routes anything.
    let claims = null;
    const header = req.headers.authorization;
    if (header) {
      if (!header.startsWith('Bearer ')) return plain(res, 401, 'invalid authorization header. Must start with Bearer ');
      try {
        claims = verifyJwt(header.slice(7).trim(), this.sfu.keys);
      } catch (e) {
        if (!(e instanceof AuthError)) throw e;
        this.sfu.stats.auth_failures++;
        return plain(res, e.status, e.message);
      }
    }
    const name = pathname.slice(PREFIX.length);
    const method = Object.hasOwn(this.methods, name) ? this.methods[name] : null;
    const route = { twirp_invalid_route: `${req.method} ${pathname}` };
    if (!method) return twirp(res, new TwirpError(404, 'bad_route', `no handler for path "${pathname}"`, route));
    if (req.method !== 'POST') return twirp(res, new TwirpError(404, 'bad_route', `unsupported method "${req.method}" (only POST is allowed)`, route));
    const mediaType = (req.headers['content-type'] || '').split(';')[0].trim().toLowerCase();
    if (mediaType !== 'application/json' && mediaType !== 'application/protobuf')
      return twirp(res, new TwirpError(404, 'bad_route', `unexpected Content-Type: "${req.headers['content-type'] || ''}"`, route));
    const json = mediaType === 'application/json';
    const [Type, permission, handle] = method;
    let request;
    try {
      request = json ? Type.fromJsonString(body.length ? body.toString('utf8') : '{}', { ignoreUnknownFields: true }) : Type.fromBinary(body);
    } catch {
      return twirp(res, new TwirpError(400, 'malformed', `the ${json ? 'json' : 'protobuf'} request could not be decoded`));
    }
    const video = claims && claims.video && typeof claims.video === 'object' ? claims.video : {};
    if (!claims || !permission(request)(video)) return twirp(res, new TwirpError(401, 'unauthenticated', 'permissions denied'));
    let reply;
    try {
      reply = handle(request, claims);
    } catch (e) {
      if (e instanceof TwirpError) return twirp(res, e);
      throw e;
    }
    this.sfu.stats.api_calls++;
    if (json) {
      const text = reply.toJsonString({ useProtoFieldName: true, emitDefaultValues: true });
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(text);
    } else {
      const bytes = Buffer.from(reply.toBinary());
      res.writeHead(200, { 'Content-Type': 'application/protobuf' });
      res.end(bytes);
    }
  }
}

function plain(res, status, message) {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(message + '\n');
}

function twirp(res, e) {
  const body = { code: e.code, msg: e.message };
  if (e.meta) body.meta = e.meta;
  res.writeHead(e.status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** Signs and posts webhook events to every configured URL: one ordered queue per URL, so a dead receiver delays only itself. */
class Webhooks {
  constructor(sfu, urls) {
    this.sfu = sfu;
    this.queues = urls.map((url) => ({ url, items: [], running: false }));
  }

  /** Queues `event` (a name) about `room` and optionally a participant and a track, signed with the room's key. */
  notify(event, room, participant, track) {
    if (this.queues.length === 0) return;
    const apiKey = room.apiKey && this.sfu.keys.has(room.apiKey) ? room.apiKey : this.sfu.keys.keys().next().value;
    const secret = apiKey === undefined ? undefined : this.sfu.keys.get(apiKey);
    if (secret === undefined) return;
    const slim = (p) => new proto.ParticipantInfo({ sid: p.sid, identity: p.identity, name: p.name }); // what LiveKit puts in track events
    const body = new proto.WebhookEvent({
      event,
      room: room.info(),
      participant: participant ? (track ? slim(participant) : participant.info()) : undefined,
      track,
      id: `EV_${crypto.randomBytes(9).toString('base64url')}`,
      createdAt: BigInt(Math.floor(Date.now() / 1000)),
    }).toJsonString();
    const item = { event, body, apiKey, secret, at: Date.now() };
    for (const q of this.queues) {
      if (q.items.length >= WEBHOOK_MAX_DEPTH) {
        q.items.shift();
        this.sfu.stats.webhooks_dropped++;
      }
      q.items.push(item);
      if (!q.running) this.drain(q);
    }
  }

  async drain(q) {
    q.running = true;
    try {
      while (q.items.length > 0) {
        const item = q.items.shift();
        if (Date.now() - item.at > WEBHOOK_MAX_AGE_MS) {
          this.sfu.stats.webhooks_dropped++;
          continue;
        }
        await this.deliver(q.url, item);
      }
    } finally {
      q.running = false;
    }
  }

  async deliver(url, item) {
    let delay = 1000;
    for (let attempt = 1; attempt <= WEBHOOK_ATTEMPTS; attempt++) {
      let status = 0;
      try {
        const r = await fetch(url, {
          method: 'POST',
          headers: { 'Content-Type': 'application/webhook+json', Authorization: this.sign(item), 'User-Agent': 'LiveKit' },
          body: item.body,
          signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
        });
        status = r.status;
        await r.arrayBuffer().catch(() => undefined);
        if (r.ok) {
          this.sfu.stats.webhooks_sent++;
          return;
        }
        if (status < 500 && status !== 429) {
          this.sfu.stats.webhooks_refused++;
          this.sfu.log(`webhook ${item.event} refused by ${new URL(url).host} with HTTP ${status}; not retried`);
          return;
        }
        if (status === 501) break;
      } catch {
        // unreachable, reset or timed out: retried
      }
      this.sfu.stats.webhook_retries++;
      if (attempt < WEBHOOK_ATTEMPTS) await new Promise((r) => setTimeout(r, delay).unref());
      delay *= 2;
    }
    this.sfu.stats.webhooks_abandoned++;
    this.sfu.log(`webhook ${item.event} to ${new URL(url).host} abandoned after ${WEBHOOK_ATTEMPTS} attempts`);
  }

  /** A fresh token per attempt (LiveKit signs when it sends): iss = key, 5 min, sha256 of the exact body. */
  sign(item) {
    const now = Math.floor(Date.now() / 1000);
    const sha256 = crypto.createHash('sha256').update(item.body).digest('base64');
    const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const unsigned = enc({ alg: 'HS256', typ: 'JWT' }) + '.' + enc({ iss: item.apiKey, nbf: now, exp: now + WEBHOOK_TOKEN_TTL_S, sha256 });
    return unsigned + '.' + crypto.createHmac('sha256', item.secret).update(unsigned).digest('base64url');
  }
}

module.exports = { RoomService, Webhooks };
