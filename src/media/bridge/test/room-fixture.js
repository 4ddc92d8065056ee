'use strict';
// A room for the silo's end-to-end tests of the bridge: starts the stand-in SFU, connects an official rtc-node candidate
// that publishes a 440 Hz tone, and reports on stdout (JSON lines) what the candidate hears from the agent:
//   {"ev":"ready","url":..,"agentToken":..,"room":..,"apiKey":..,"apiSecret":..}    (for the test only, which mints its own
//   tokens with them; the fixture never logs them elsewhere)
//   {"ev":"agent_audio","at":unixMs}  first loud 10 ms after silence     {"ev":"agent_silent","at":unixMs}  first quiet 10 ms after sound
// Exits when stdin closes.
const { Room, RoomEvent, AudioStream, TrackKind } = require('@livekit/rtc-node');
const { SfuProcess, rms } = require('../../sfu/conformance/harness');
const { TonePeer } = require('../../sfu/conformance/peer');

const emit = (o) => process.stdout.write(JSON.stringify(o) + '\n');
(async () => {
  const sfu = await new SfuProcess().start();
  const room = 'bridge-e2e';
  const cand = await new TonePeer('candidate', 440).connect(sfu.url, await sfu.token('candidate', room));
  await cand.publish();
  let loud = false;
  let quietRun = 0;
  cand.room.on(RoomEvent.TrackSubscribed, async (track, _pub, participant) => {
    if (track.kind !== TrackKind.KIND_AUDIO || participant.identity !== 'agent') return;
    for await (const f of new AudioStream(track, { sampleRate: 24000, numChannels: 1, frameSizeMs: 10 })) {
      const level = rms(f.data);
      if (!loud && level > 2000) { loud = true; quietRun = 0; emit({ ev: 'agent_audio', at: Date.now() }); }
      else if (loud && level < 300) { if (++quietRun >= 3) { loud = false; emit({ ev: 'agent_silent', at: Date.now() - 20 }); } }
      else quietRun = 0;
    }
    if (loud) { loud = false; emit({ ev: 'agent_silent', at: Date.now() }); } // the agent's track went away
  });
  emit({ ev: 'ready', url: sfu.url, room, agentToken: await sfu.token('agent', room, { kind: 'agent', ttl: '1h' }), apiKey: sfu.apiKey, apiSecret: sfu.apiSecret });
  process.stdin.on('data', () => {});
  process.stdin.on('end', async () => { await cand.close(); await sfu.stop(); process.exit(0); });
})().catch((e) => { console.error(e); process.exit(1); });
