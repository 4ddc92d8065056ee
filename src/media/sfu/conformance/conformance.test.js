'use strict';
// Conformance of the stand-in SFU with the official @livekit/rtc-node client (run: node --test src/media/sfu/conformance/).
// Each test starts its own SFU process on a free loopback port and stops it.
const test = require('node:test');
const assert = require('node:assert/strict');
const WebSocket = require('ws');
const proto = require('@livekit/protocol');
const { SfuProcess, until, rawToken, tonePower, rms } = require('./harness');
const { TonePeer } = require('./peer');

const { dispose } = require('@livekit/rtc-node');

// rtc-node's native client keeps the event loop alive after the last room; release it so the test process exits.
test.after(() => dispose());

const A_HZ = 440;
const B_HZ = 1250;

/** True once `listener` hears `freq` clearly (and not `other`) in the last half second from `identity`. */
function hears(listener, identity, freq, other) {
  const s = listener.recent(identity);
  if (!s) return false;
  return rms(s) > 1000 && tonePower(s, freq) > 20 * tonePower(s, other);
}

async function withSfu(fn, args) {
  const sfu = await new SfuProcess(args).start();
  const peers = [];
  try {
    await fn(sfu, peers);
  } finally {
    for (const p of peers) await p.close();
    sfu.assertNoSecretsPrinted();
    const exit = await sfu.stop();
    assert.equal(exit.code, 0, `the SFU exits cleanly when stdin closes; stderr: ${sfu.stderr.slice(-1000)}`);
  }
}

test('two rtc-node participants hear each other\'s tone through the SFU', { timeout: 60_000 }, () => withSfu(async (sfu, peers) => {
  const a = new TonePeer('alice', A_HZ);
  const b = new TonePeer('bob', B_HZ);
  peers.push(a, b);
  await a.connect(sfu.url, await sfu.token('alice', 'room-1', { kind: 'agent' }));
  await b.connect(sfu.url, await sfu.token('bob', 'room-1'));
  await Promise.all([a.publish(), b.publish()]);
  await until(() => hears(a, 'bob', B_HZ, A_HZ), 'alice to hear bob\'s 1250 Hz tone');
  await until(() => hears(b, 'alice', A_HZ, B_HZ), 'bob to hear alice\'s 440 Hz tone');

  const joined = sfu.events.filter((e) => e.ev === 'participant_joined');
  assert.deepEqual(joined.map((e) => [e.identity, e.kind, e.room]), [['alice', 'agent', 'room-1'], ['bob', 'standard', 'room-1']]);
  for (const e of joined) assert.match(e.sid, /^PA_/);
  const published = sfu.events.filter((e) => e.ev === 'track_published');
  assert.equal(published.length, 2);
  for (const e of published) {
    assert.match(e.trackSid, /^TR_/);
    assert.equal(e.mimeType, 'audio/opus');
    assert.equal(e.source, 'microphone');
  }
  const remoteAlice = b.room.remoteParticipants.get('alice');
  assert.equal(remoteAlice.kind, 4 /* ParticipantKind.AGENT in rtc-node */);
}));

/** A raw signal client (the `ws` package) for what the official clients never send. */
function rawSignal(sfu, token, query = '') {
  const ws = new WebSocket(`${sfu.url}/rtc?access_token=${token}&protocol=16${query}`);
  const messages = [];
  ws.on('message', (d) => messages.push(proto.SignalResponse.fromBinary(new Uint8Array(d)).message));
  const opened = new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })));
    ws.once('error', reject);
  });
  const closed = new Promise((r) => ws.once('close', (code) => r(code)));
  return { ws, messages, opened, closed };
}

function request(ws, kind, value) {
  ws.send(new proto.SignalRequest({ message: { case: kind, value } }).toBinary());
}

test('wrong, expired, other-room and grantless tokens get 401 at /rtc/validate and on the upgrade', { timeout: 30_000 }, () => withSfu(async (sfu) => {
  const now = Math.floor(Date.now() / 1000);
  const good = await sfu.token('carol', 'room-a');
  const cases = {
    'wrong secret': await sfu.token('carol', 'room-a', { secret: 'not-the-secret' }),
    'unknown key': await sfu.token('carol', 'room-a', { key: 'APIother' }),
    expired: rawToken({ iss: sfu.apiKey, sub: 'carol', nbf: now - 7200, exp: now - 3600, video: { roomJoin: true, room: 'room-a' } }, sfu.apiSecret),
    'no roomJoin': await sfu.token('carol', 'room-a', { roomJoin: false }),
    'no exp': rawToken({ iss: sfu.apiKey, sub: 'carol', video: { roomJoin: true, room: 'room-a' } }, sfu.apiSecret),
    'alg none': rawToken({ iss: sfu.apiKey, sub: 'carol', exp: now + 600, video: { roomJoin: true, room: 'room-a' } }, sfu.apiSecret).replace(/^[^.]+/, Buffer.from('{"alg":"none"}').toString('base64url')),
  };
  const validate = (token, extra = '') => fetch(`${sfu.httpUrl}/rtc/validate?access_token=${token}${extra}`, { headers: { Origin: 'http://page.example' } });

  const ok = await validate(good);
  assert.equal(ok.status, 200);
  assert.equal(ok.headers.get('access-control-allow-origin'), '*');
  const bearer = await fetch(`${sfu.httpUrl}/rtc/validate`, { headers: { Authorization: `Bearer ${good}` } });
  assert.equal(bearer.status, 200, 'the bearer header is accepted as rtc-node sends it');
  for (const [what, token] of Object.entries(cases)) {
    const r = await validate(token);
    assert.equal(r.status, 401, what);
    assert.equal(r.headers.get('access-control-allow-origin'), '*', `CORS on the 401 (${what})`);
    await assert.rejects(rawSignal(sfu, token).opened, (e) => e.status === 401, `upgrade refused (${what})`);
  }
  assert.equal((await validate(good, '&room=room-b')).status, 401, 'a token for room-a does not open room-b');
  await assert.rejects(rawSignal(sfu, good, '&room=room-b').opened, (e) => e.status === 401);
  assert.equal((await fetch(`${sfu.httpUrl}/rtc/validate`)).status, 401, 'no token');

  for (const path of ['/rtc/v1/validate', '/rtc/v1']) {
    const r = await fetch(`${sfu.httpUrl}${path}?access_token=${good}`);
    assert.equal(r.status, 404, path);
    assert.doesNotMatch(await r.text(), /requested room does not exist/);
  }
  const preflight = await fetch(`${sfu.httpUrl}/rtc/validate`, { method: 'OPTIONS', headers: { Origin: 'http://page.example', 'Access-Control-Request-Method': 'GET' } });
  assert.equal(preflight.headers.get('access-control-allow-origin'), '*');

  // The official client is refused too, and nobody joined.
  const peer = new TonePeer('carol', A_HZ);
  await assert.rejects(peer.connect(sfu.url, cases.expired));
  await peer.close();
  assert.equal(sfu.events.filter((e) => e.ev === 'participant_joined').length, 0);
  assert.ok((await sfu.lastStats()).auth_failures >= Object.keys(cases).length * 2);
}));

test('a hidden participant is not listed to others and its track is not delivered', { timeout: 60_000 }, () => withSfu(async (sfu, peers) => {
  const alice = new TonePeer('alice', A_HZ);
  const ghost = new TonePeer('ghost', B_HZ);
  const bob = new TonePeer('bob', 900);
  peers.push(alice, ghost, bob);
  await alice.connect(sfu.url, await sfu.token('alice', 'room-h'));
  await alice.publish();
  await ghost.connect(sfu.url, await sfu.token('ghost', 'room-h', { hidden: true }));
  await ghost.publish();
  await bob.connect(sfu.url, await sfu.token('bob', 'room-h'));

  // The hidden one still receives; bob receives alice (the window in which ghost's audio would have arrived).
  await until(() => hears(ghost, 'alice', A_HZ, B_HZ), 'the hidden participant to hear alice');
  await until(() => hears(bob, 'alice', A_HZ, B_HZ), 'bob to hear alice');
  const ghostTrack = await sfu.waitFor((e) => e.ev === 'track_published' && e.identity === 'ghost', 'ghost\'s track');
  assert.match(ghostTrack.trackSid, /^TR_/);
  const joined = await sfu.waitFor((e) => e.ev === 'participant_joined' && e.identity === 'ghost', 'ghost joined');
  assert.equal(joined.hidden, true);
  await until(async () => (await sfu.lastStats()).rtp_in > 300, 'RTP from all three publishers for a while');

  for (const p of [alice, bob]) {
    assert.deepEqual(p.remoteIdentities().sort(), [p === alice ? 'bob' : 'alice'], `${p.name} does not see the hidden participant`);
    assert.equal(p.heard.has('ghost'), false, `${p.name} got no track from the hidden participant`);
  }
  assert.deepEqual(ghost.remoteIdentities().sort(), ['alice', 'bob']);

  // The clients drop tracks of participants they do not know, so look at what the SFU offers a newcomer: alice's
  // track (stream id PA_x|TR_y) and not ghost's.
  const watcher = rawSignal(sfu, await sfu.token('watcher', 'room-h'));
  await watcher.opened;
  const offer = await until(() => watcher.messages.find((m) => m.case === 'offer'), 'the watcher\'s subscriber offer');
  const aliceSid = sfu.events.find((e) => e.ev === 'participant_joined' && e.identity === 'alice').sid;
  const aliceTrack = sfu.events.find((e) => e.ev === 'track_published' && e.identity === 'alice').trackSid;
  assert.match(offer.value.sdp, new RegExp(`a=msid:${aliceSid}\\|${aliceTrack} `));
  assert.ok(!offer.value.sdp.includes(joined.sid), 'no m-line carries the hidden participant\'s track');
  const listed = watcher.messages[0].value.otherParticipants.map((p) => p.identity).sort();
  assert.deepEqual(listed, ['alice', 'bob']);
  watcher.ws.close();
}));

test('a second connection with the same identity evicts the older one', { timeout: 60_000 }, () => withSfu(async (sfu, peers) => {
  const bob = new TonePeer('bob', B_HZ);
  const first = new TonePeer('agent-1', 600);
  const second = new TonePeer('agent-1', A_HZ);
  peers.push(bob, first, second);
  await bob.connect(sfu.url, await sfu.token('bob', 'room-d'));
  await first.connect(sfu.url, await sfu.token('agent-1', 'room-d', { kind: 'agent' }));
  await first.publish();
  await until(() => hears(bob, 'agent-1', 600, A_HZ), 'bob to hear the first connection');

  await second.connect(sfu.url, await sfu.token('agent-1', 'room-d', { kind: 'agent' }));
  await second.publish();
  await until(() => first.events.some((e) => e.e === 'disconnected'), 'the older connection to be told to leave');
  assert.equal(first.events.find((e) => e.e === 'disconnected').arg, proto.DisconnectReason.DUPLICATE_IDENTITY);
  const left = await sfu.waitFor((e) => e.ev === 'participant_left' && e.identity === 'agent-1', 'participant_left');
  assert.equal(left.reason, 'duplicate_identity');
  await until(() => hears(bob, 'agent-1', A_HZ, 600), 'bob to hear the newer connection');
  assert.deepEqual(bob.remoteIdentities(), ['agent-1']);
  const joins = sfu.events.filter((e) => e.ev === 'participant_joined' && e.identity === 'agent-1');
  assert.equal(joins.length, 2);
  assert.equal(bob.room.remoteParticipants.get('agent-1').sid, joins[1].sid);
}));

test('after the server kills a signal socket the client resumes within the grace period and audio flows again both ways', { timeout: 60_000 }, () => withSfu(async (sfu, peers) => {
  const a = new TonePeer('alice', A_HZ);
  const b = new TonePeer('bob', B_HZ);
  peers.push(a, b);
  await a.connect(sfu.url, await sfu.token('alice', 'room-r'));
  await b.connect(sfu.url, await sfu.token('bob', 'room-r'));
  await Promise.all([a.publish(), b.publish()]);
  await until(() => hears(a, 'bob', B_HZ, A_HZ) && hears(b, 'alice', A_HZ, B_HZ), 'audio both ways');
  const sid = a.room.remoteParticipants.get('bob').sid;

  const ack = await sfu.control({ op: 'drop_signal', room: 'room-r', identity: 'bob' });
  assert.equal(ack.ok, true);
  await until(async () => (await sfu.lastStats()).resumes >= 1, 'bob to resume', 20_000);
  // A resume keeps the subscriptions: what was heard so far is forgotten, the streams go on.
  for (const [peer, identity] of [[a, 'bob'], [b, 'alice']]) {
    const entry = peer.heard.get(identity);
    entry.filled = 0;
    entry.samples.fill(0);
  }
  await until(() => hears(a, 'bob', B_HZ, A_HZ), 'alice to hear bob again', 20_000);
  await until(() => hears(b, 'alice', A_HZ, B_HZ), 'bob to hear alice again', 20_000);
  // A resume, not a new participation: same sid, one join, no leave, and alice never saw bob go.
  assert.equal(a.room.remoteParticipants.get('bob').sid, sid);
  assert.equal(sfu.events.filter((e) => e.ev === 'participant_joined' && e.identity === 'bob').length, 1);
  assert.equal(sfu.events.filter((e) => e.ev === 'participant_left').length, 0);
  assert.ok(!a.events.some((e) => e.e === 'participantDisconnected'), 'alice never saw bob leave');
  const stats = await sfu.lastStats();
  assert.deepEqual([stats.signal_lost, stats.resumes, stats.grace_expired], [1, 1, 0], JSON.stringify(stats));
  assert.ok(stats.ice_restarts >= 1, 'the resumed client restarted ICE on its publisher and the SFU followed');
  await until(() => b.events.some((e) => e.e === 'reconnecting') && b.events.some((e) => e.e === 'reconnected'), 'rtc-node to report the resume');
}));

test('a participant whose signal stays down leaves when its grace runs out, and a late resume is sent to a full reconnect', { timeout: 30_000 }, () => withSfu(async (sfu) => {
  const token = await sfu.token('gone', 'room-grace');
  const first = rawSignal(sfu, token);
  await first.opened;
  const join = (await until(() => first.messages.find((m) => m.case === 'join'), 'the JoinResponse')).value;
  const dropped = Date.now();
  assert.equal((await sfu.control({ op: 'drop_signal', room: 'room-grace', identity: 'gone' })).ok, true);
  await first.closed;
  // Within the grace: still there (the control channel finds it), no participant_left yet.
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(sfu.events.filter((e) => e.ev === 'participant_left').length, 0);
  const left = await sfu.waitFor((e) => e.ev === 'participant_left' && e.identity === 'gone', 'the grace to run out', 10_000);
  assert.equal(left.reason, 'signal_closed');
  assert.ok(Date.now() - dropped >= 1000, `left after the 1 s grace, not before (${Date.now() - dropped} ms)`);
  const late = rawSignal(sfu, token, `&reconnect=1&sid=${join.participant.sid}`);
  await late.opened;
  await late.closed;
  assert.equal(late.messages[0].case, 'leave');
  assert.equal(late.messages[0].value.action, proto.LeaveRequest_Action.RECONNECT);
  const stats = await sfu.lastStats();
  assert.deepEqual([stats.signal_lost, stats.grace_expired, stats.resumes, stats.resumes_refused], [1, 1, 0, 1]);
}, ['--signal-grace-ms', '1000']));

test('a joined participant gets a refresh token: its own grants, re-signed with its key, valid for 10 minutes', { timeout: 30_000 }, () => withSfu(async (sfu) => {
  const { verifyToken } = require('../auth');
  const original = await sfu.token('refreshed', 'room-refresh', { kind: 'agent', ttl: '2m' });
  const client = rawSignal(sfu, original);
  await client.opened;
  const refresh = (await until(() => client.messages.find((m) => m.case === 'refreshToken'), 'a refresh token')).value;
  sfu.tokens.push(refresh); // it must never be printed either
  assert.notEqual(refresh, original);
  const keys = new Map([[sfu.apiKey, sfu.apiSecret]]);
  const before = verifyToken(original, keys);
  const after = verifyToken(refresh, keys);
  for (const field of ['identity', 'room', 'kind', 'canPublish', 'canSubscribe', 'canPublishData', 'hidden', 'apiKey']) assert.equal(after[field], before[field], field);
  assert.ok(Math.abs(after.exp - (Date.now() / 1000 + 600)) < 30, 'valid for 10 minutes from now');
  assert.ok(after.exp > before.exp);
  assert.throws(() => verifyToken(refresh, new Map([[sfu.apiKey, 'another secret of at least thirty-two bytes']])), /signature/);
  client.ws.close();
}));

test('data packets reach the other participants with the sender\'s identity and topic, as LiveKit relays them', { timeout: 60_000 }, () => withSfu(async (sfu, peers) => {
  const agent = new TonePeer('agent', A_HZ);
  const cand = new TonePeer('cand', B_HZ);
  const third = new TonePeer('third', 600);
  peers.push(agent, cand, third);
  await agent.connect(sfu.url, await sfu.token('agent', 'room-data', { kind: 'agent' }));
  await cand.connect(sfu.url, await sfu.token('cand', 'room-data'));
  await third.connect(sfu.url, await sfu.token('third', 'room-data'));
  await agent.publish();
  const lp = agent.room.localParticipant;
  await lp.publishData(new TextEncoder().encode('{"n":1}'), { reliable: true, topic: 'transcript' });
  await lp.publishData(new TextEncoder().encode('only for cand'), { reliable: true, topic: 'direct', destination_identities: ['cand'] });
  await lp.publishData(new TextEncoder().encode('lossy'), { reliable: false, topic: 'lossy' });
  await until(() => cand.data.length >= 3 && third.data.length >= 2, 'the data packets to arrive');
  // reliable and lossy travel on different channels: no order between them
  const seen = (peer) => peer.data.map((d) => [d.from, d.topic, d.text]).sort((x, y) => x[1].localeCompare(y[1]));
  assert.deepEqual(seen(cand), [['agent', 'direct', 'only for cand'], ['agent', 'lossy', 'lossy'], ['agent', 'transcript', '{"n":1}']]);
  assert.deepEqual(seen(third), [['agent', 'lossy', 'lossy'], ['agent', 'transcript', '{"n":1}']]);
  assert.equal(agent.data.length, 0, 'the sender does not get its own packets back');

  // A flood from one participant is cut at the SFU's rate and counted; the others keep receiving.
  const before = cand.data.length;
  await Promise.all(Array.from({ length: 300 }, (_, i) => lp.publishData(new TextEncoder().encode(`flood ${i}`), { reliable: true, topic: 'flood' })));
  await until(async () => (await sfu.lastStats()).data_rate_limited > 0, 'the flood to be rate limited');
  const stats = await until(async () => {
    const s = await sfu.lastStats();
    return s.data_in + s.data_rate_limited === 303 && s;
  }, 'every packet of the flood to be counted');
  await until(() => cand.data.length - before === stats.data_in - 3, 'every relayed packet of the flood to arrive', 10_000);
  assert.ok(cand.data.length - before < 300, `a flood of 300 is cut (${cand.data.length - before} relayed)`);
}));

test('garbage, oversized, unknown and unauthorized data packets are dropped and counted, never relayed', { timeout: 30_000 }, () => withSfu(async (sfu) => {
  const { Sfu } = require('../index');
  const { Room, Participant } = require('../room');
  // The SFU's own classes, without sockets: what a client's data channel delivers goes straight into onData.
  const host = new Sfu({ host: '127.0.0.1', maxParticipantsPerRoom: 4, maxTracksPerParticipant: 2, maxConnections: 4 });
  host.emit = () => undefined;
  const room = new Room(host, 'room-junk');
  const grant = (identity, canPublishData = true) => ({ identity, room: 'room-junk', name: identity, metadata: '', attributes: {}, kind: 'standard',
    canPublish: true, canSubscribe: true, canPublishData, hidden: false });
  const sender = new Participant(host, room, grant('sender'), null);
  const mute = new Participant(host, room, grant('mute', false), null);
  const receiver = new Participant(host, room, grant('receiver'), null);
  for (const p of [sender, mute, receiver]) room.participants.set(p.identity, p);
  const got = [];
  receiver.sendData = (buf, reliable) => got.push({ packet: proto.DataPacket.fromBinary(new Uint8Array(buf)), reliable });
  const user = (payload, extra = {}) => Buffer.from(new proto.DataPacket({ kind: proto.DataPacket_Kind.RELIABLE,
    value: { case: 'user', value: new proto.UserPacket({ payload, topic: 't', participantIdentity: 'forged', ...extra }) } }).toBinary());

  sender.onData(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]), true); // not a DataPacket
  sender.onData('{"text":"frame"}', true); // a text message
  sender.onData(Buffer.alloc(65 * 1024, 1), true); // too big
  sender.onData(Buffer.from(new proto.DataPacket({ value: { case: 'speaker', value: new proto.ActiveSpeakerUpdate({}) } }).toBinary()), true); // server-only kind
  sender.onData(Buffer.from(new proto.DataPacket({}).toBinary()), true); // no value
  mute.onData(user(new Uint8Array([1])), true); // no canPublishData
  sender.onData(user(new TextEncoder().encode('fine')), true);
  assert.equal(got.length, 1, 'only the well-formed, authorized packet is relayed');
  assert.equal(got[0].packet.participantIdentity, 'sender', 'the server stamps the sender, a forged identity is overwritten');
  assert.equal(got[0].packet.value.value.participantIdentity, 'sender');
  assert.equal(new TextDecoder().decode(got[0].packet.value.value.payload), 'fine');
  assert.deepEqual({ garbage: host.stats.data_garbage, refused: host.stats.data_refused, relayed: host.stats.data_in },
    { garbage: 5, refused: 1, relayed: 1 });
  for (let i = 0; i < 150; i++) sender.onData(user(new Uint8Array([i])), false);
  assert.equal(host.stats.data_rate_limited, 150 + 1 - 100 + 5, 'beyond 100 packets a second, counted and dropped');
  for (const p of [sender, mute, receiver]) p.close();
}));

test('removing a participant and closing a room from the control channel evict with the reason', { timeout: 30_000 }, () => withSfu(async (sfu, peers) => {
  const a = new TonePeer('alice', A_HZ);
  const b = new TonePeer('bob', B_HZ);
  peers.push(a, b);
  await a.connect(sfu.url, await sfu.token('alice', 'room-x'));
  await b.connect(sfu.url, await sfu.token('bob', 'room-x'));
  assert.equal((await sfu.control({ op: 'remove', room: 'room-x', identity: 'bob' })).ok, true);
  await until(() => b.events.some((e) => e.e === 'disconnected'), 'bob to be removed');
  assert.equal(b.events.find((e) => e.e === 'disconnected').arg, proto.DisconnectReason.PARTICIPANT_REMOVED);
  await until(() => a.remoteIdentities().length === 0, 'alice to see bob gone');
  assert.equal((await sfu.control({ op: 'remove', room: 'room-x', identity: 'bob' })).ok, false, 'removing twice finds nobody');
  assert.equal((await sfu.control({ op: 'close_room', room: 'room-x' })).ok, true);
  await until(() => a.events.some((e) => e.e === 'disconnected'), 'alice to be evicted with the room');
  assert.equal(a.events.find((e) => e.e === 'disconnected').arg, proto.DisconnectReason.ROOM_DELETED);
  const left = sfu.events.filter((e) => e.ev === 'participant_left').map((e) => [e.identity, e.reason]);
  assert.deepEqual(left, [['bob', 'removed'], ['alice', 'room_deleted']]);
  assert.equal((await sfu.lastStats()).rooms, 0);
}));

test('garbage, floods and limits are refused and counted; the process and the other sockets survive', { timeout: 30_000 }, () => withSfu(async (sfu) => {
  // A well-behaved raw participant that stays connected throughout.
  const keeper = rawSignal(sfu, await sfu.token('keeper', 'room-g'));
  await keeper.opened;
  await until(() => keeper.messages.some((m) => m.case === 'join'), 'keeper\'s JoinResponse');
  assert.equal(keeper.messages[0].case, 'join', 'JoinResponse comes first');
  const join = keeper.messages[0].value;
  assert.match(join.room.sid, /^RM_/);
  assert.match(join.participant.sid, /^PA_/);
  assert.ok(join.serverInfo.version.length > 0);
  assert.equal(join.pingInterval, 5);
  assert.equal(join.pingTimeout, 15);
  assert.equal(join.subscriberPrimary, true);

  // Garbage binary, a text frame and an oversized frame each close only their own socket.
  for (const send of [(ws) => ws.send(Buffer.from([0xff, 0xff, 0xff, 0x01, 0x02])), (ws) => ws.send('{"offer":1}'), (ws) => ws.send(Buffer.alloc(300 * 1024, 7))]) {
    const bad = rawSignal(sfu, await sfu.token(`bad-${Math.random()}`, 'room-g'));
    await bad.opened;
    send(bad.ws);
    await bad.closed;
  }
  // Tracks beyond the per-participant limit get no track_published.
  for (let i = 0; i < 5; i++) request(keeper.ws, 'addTrack', new proto.AddTrackRequest({ cid: `c${i}`, type: proto.TrackType.AUDIO, source: proto.TrackSource.MICROPHONE }));
  request(keeper.ws, 'addTrack', new proto.AddTrackRequest({ cid: 'v', type: proto.TrackType.VIDEO }));
  request(keeper.ws, 'pingReq', new proto.Ping({ timestamp: 42n }));
  const pong = await until(() => keeper.messages.find((m) => m.case === 'pongResp'), 'pong_resp');
  assert.equal(pong.value.lastPingTimestamp, 42n);
  assert.equal(keeper.messages.filter((m) => m.case === 'trackPublished').length, 2);
  // Joins beyond the room limit are refused at the upgrade.
  const second = rawSignal(sfu, await sfu.token('second', 'room-g'));
  await second.opened;
  await assert.rejects(rawSignal(sfu, await sfu.token('third', 'room-g')).opened, (e) => e.status === 429);
  // A resume naming another sid than the participant's is answered with a leave asking for a full reconnect.
  const resume = rawSignal(sfu, await sfu.token('keeper', 'room-g'), '&reconnect=1&sid=PA_notthekeeper');
  await resume.opened;
  await resume.closed;
  assert.equal(resume.messages[0].case, 'leave');
  assert.equal(resume.messages[0].value.action, proto.LeaveRequest_Action.RECONNECT);
  // Junk on the control channel is ignored; an unknown op is refused.
  sfu.child.stdin.write('not json\n{"op":\n');
  assert.equal((await sfu.control({ op: 'explode' })).ok, false);
  // HTTP junk.
  assert.equal((await fetch(`${sfu.httpUrl}/nothing`)).status, 404);

  const stats = await sfu.lastStats();
  assert.equal(stats.garbage_frames >= 2, true, JSON.stringify(stats));
  assert.equal(stats.tracks_refused, 4);
  assert.equal(stats.joins_refused, 1);
  assert.equal(stats.resumes_refused, 1);
  assert.equal(keeper.ws.readyState, WebSocket.OPEN, 'the well-behaved socket is still open');
  keeper.ws.close();
  second.ws.close();
}, ['--max-participants-per-room', '2', '--max-tracks-per-participant', '2']));

test('serving the API, it answers the official RoomService client and posts signed webhooks a WebhookReceiver accepts to every URL', { timeout: 60_000 }, async () => {
  const http = require('http');
  const { RoomServiceClient, WebhookReceiver } = require('livekit-server-sdk');
  const received = [];
  let receiver = null;
  const hook = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', async () => {
      try {
        assert.equal(req.headers['content-type'], 'application/webhook+json');
        received.push(await receiver.receive(body, req.headers.authorization)); // signature and sha256 checked by LiveKit's own code
        res.end('ok');
      } catch (e) {
        received.push({ error: e.message });
        res.writeHead(401).end();
      }
    });
  });
  await new Promise((r) => hook.listen(0, '127.0.0.1', r));
  // A second URL where nothing listens: its retries must not hold up the live one (one queue per URL).
  const args = ['--serve-api', '--webhook-url', 'http://127.0.0.1:1/dead', '--webhook-url', `http://127.0.0.1:${hook.address().port}/hook`];
  try {
    await withSfu(async (sfu, peers) => {
      receiver = new WebhookReceiver(sfu.apiKey, sfu.apiSecret);
      const rooms = new RoomServiceClient(sfu.httpUrl, sfu.apiKey, sfu.apiSecret);
      const created = await rooms.createRoom({ name: 'room-api', emptyTimeout: 30, maxParticipants: 4, metadata: 'm1' });
      assert.match(created.sid, /^RM_/);
      assert.equal(created.emptyTimeout, 30);
      assert.equal((await rooms.createRoom({ name: 'room-api' })).sid, created.sid); // idempotent by name
      assert.deepEqual((await rooms.listRooms()).map((r) => r.name), ['room-api']);

      const alice = new TonePeer('alice', A_HZ);
      peers.push(alice);
      await alice.connect(sfu.url, await sfu.token('alice', 'room-api', { kind: 'agent' }));
      await alice.publish();
      const listed = await until(async () => {
        const ps = await rooms.listParticipants('room-api');
        return ps.length === 1 && ps[0].tracks.length === 1 ? ps : null;
      }, 'alice and her track in ListParticipants');
      assert.equal(listed[0].identity, 'alice');
      assert.equal((await rooms.getParticipant('room-api', 'alice')).sid, listed[0].sid);

      // Wrong secret: the auth middleware's plain 401. An unknown room or participant: not_found.
      await assert.rejects(new RoomServiceClient(sfu.httpUrl, sfu.apiKey, 'x'.repeat(40)).listRooms(), (e) => e.status === 401);
      await assert.rejects(rooms.listParticipants('room-other'), (e) => e.status === 404);
      await assert.rejects(rooms.removeParticipant('room-api', 'nobody'), (e) => e.status === 404 && e.code === 'not_found');

      await rooms.removeParticipant('room-api', 'alice');
      await until(() => alice.events.some((e) => e.e === 'disconnected'), 'alice to be told she was removed');
      assert.equal(alice.events.find((e) => e.e === 'disconnected').arg, proto.DisconnectReason.PARTICIPANT_REMOVED);
      await rooms.deleteRoom('room-api');
      assert.deepEqual(await rooms.listRooms(), []);

      const names = () => received.map((e) => e.event || e.error);
      await until(() => names().includes('room_finished'), 'the room_finished webhook', 20_000);
      assert.deepEqual(names(), ['room_started', 'participant_joined', 'track_published', 'track_unpublished', 'participant_left', 'room_finished']);
      assert.ok(received.every((e) => e.room.name === 'room-api' && /^EV_/.test(e.id) && e.createdAt > 0n));
      const joined = received.find((e) => e.event === 'participant_joined');
      assert.equal(joined.participant.identity, 'alice');
      assert.equal(joined.participant.sid, listed[0].sid);
      assert.equal(new Set(received.map((e) => e.id)).size, received.length);
    }, args);
  } finally {
    hook.close();
  }
});
