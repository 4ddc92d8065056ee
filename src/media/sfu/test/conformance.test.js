'use strict';
// Conformance of the stand-in SFU with the official @livekit/rtc-node client (run: node --test src/media/sfu/test/).
// Each test starts its own SFU process on a free loopback port and stops it.
const test = require('node:test');
const assert = require('node:assert/strict');
const WebSocket = require('ws');
const proto = require('@livekit/protocol');
const { SfuProcess, until, rawToken, tonePower, rms } = require('./harness');
const { TonePeer } = require('./peer');

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
