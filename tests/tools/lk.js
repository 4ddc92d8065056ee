// The official LiveKit libraries, driven by the C# interop tests (tests/VoiceActors.Tests/LiveKit).
// Usage: node lk.js <command>; the input is one JSON object on stdin, the output one JSON value on stdout.
// A failure prints {"error": "..."} and exits with status 1, so a test can assert on what the official code said.
'use strict';
const { AccessToken, TokenVerifier, WebhookReceiver, RoomServiceClient } = require('livekit-server-sdk');
const protocol = require('@livekit/protocol');

const commands = {
  // Verifies a token as LiveKit's Node SDK does; returns its claims.
  async verify({ apiKey, apiSecret, token }) {
    return await new TokenVerifier(apiKey, apiSecret).verify(token);
  },

  // Mints a token with the official AccessToken (participant tokens, or webhook tokens with a sha256 claim).
  async mint({ apiKey, apiSecret, identity, ttl, grant, kind, sha256, name, metadata }) {
    const at = new AccessToken(apiKey, apiSecret, { identity, ttl: ttl ?? '10m', name, metadata });
    if (grant) at.addGrant(grant);
    if (kind) at.kind = kind;
    if (sha256) at.sha256 = sha256;
    return { token: await at.toJwt() };
  },

  // Signs a webhook body exactly as LiveKit's server does: raw JWT whose sha256 claim is base64(SHA-256(body)).
  async signWebhook({ apiKey, apiSecret, body, ttl }) {
    const sha256 = require('crypto').createHash('sha256').update(Buffer.from(body, 'utf8')).digest('base64');
    const at = new AccessToken(apiKey, apiSecret, { ttl: ttl ?? '5m' });
    at.sha256 = sha256;
    return { token: await at.toJwt() };
  },

  // Receives a webhook with the official WebhookReceiver (checks the signature and the body's sha256).
  async receiveWebhook({ apiKey, apiSecret, body, authorization }) {
    const event = await new WebhookReceiver(apiKey, apiSecret).receive(body, authorization);
    return event.toJson({ useProtoFieldName: false });
  },

  // Strict protojson parsing (unknown fields are errors) of each message; returns them re-serialised.
  async parse({ messages }) {
    return messages.map(({ type, json }) => {
      const Type = protocol[type];
      if (!Type) throw new Error(`unknown message type ${type}`);
      return Type.fromJson(json).toJson({ useProtoFieldName: true, emitDefaultValues: true });
    });
  },

  // Builds messages from JSON and serialises them as LiveKit's server does (proto names, every field emitted).
  async serialize({ messages }) {
    return messages.map(({ type, json }) => {
      const Type = protocol[type];
      if (!Type) throw new Error(`unknown message type ${type}`);
      return JSON.stringify(Type.fromJson(json).toJson({ useProtoFieldName: true, emitDefaultValues: true }));
    });
  },

  // Drives a RoomService (ours: the stand-in) with the official RoomServiceClient.
  async roomService({ host, apiKey, apiSecret, room, metadata }) {
    const client = new RoomServiceClient(host, apiKey, apiSecret);
    const created = await client.createRoom({ name: room, emptyTimeout: 30, maxParticipants: 4, metadata });
    const listed = await client.listRooms([room]);
    const participants = await client.listParticipants(room);
    const updated = await client.updateRoomMetadata(room, 'changed');
    await client.deleteRoom(room);
    const after = await client.listRooms([room]);
    return {
      created: created.toJson(), listed: listed.map((r) => r.toJson()), participants: participants.length,
      updated: updated.toJson(), after: after.length,
    };
  },

  async deleteRoom({ host, apiKey, apiSecret, room }) {
    await new RoomServiceClient(host, apiKey, apiSecret).deleteRoom(room);
    return { deleted: room };
  },

  // One RoomService call with a caller-chosen token, to read the error the official client reports.
  async roomServiceError({ host, apiKey, apiSecret, room }) {
    try {
      await new RoomServiceClient(host, apiKey, apiSecret).listParticipants(room);
      return { ok: true };
    } catch (e) {
      return { ok: false, status: e.status, code: e.code ?? null, message: e.message };
    }
  },
};

(async () => {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  const input = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
  const command = commands[process.argv[2]];
  if (!command) throw new Error(`unknown command ${process.argv[2]}`);
  const result = await command(input);
  process.stdout.write(JSON.stringify(result, (_, v) => (typeof v === 'bigint' ? v.toString() : v)));
})().catch((e) => {
  process.stdout.write(JSON.stringify({ error: String(e && e.message ? e.message : e) }));
  process.exit(1);
});
