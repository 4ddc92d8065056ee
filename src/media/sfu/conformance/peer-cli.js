'use strict';
// One official @livekit/rtc-node participant driven over stdio, for the C# tests.
// stdin, first line: {"url","token","freq"?: Hz to publish (omit: publish nothing), "data"?: {"topic","text"} published as
//   reliable data every 250 ms}; the process leaves when stdin closes.
// stdout, JSON lines: {"ev":"connected","sid","identity"} · {"ev":"published"} ·
//   {"ev":"heard","identity","rms","power":{"<Hz>":p}} every 200 ms per remote audio track (last half second) ·
//   {"ev":"disconnected","reason"} · {"ev":"error","error"}
const readline = require('readline');
const { RoomEvent } = require('@livekit/rtc-node');
const { TonePeer } = require('./peer');
const { tonePower, rms } = require('./harness');

const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const PROBES = [440, 1000, 1250];

async function main(config) {
  const peer = new TonePeer('cli', config.freq ?? 0);
  peer.room.on(RoomEvent.Disconnected, (reason) => out({ ev: 'disconnected', reason }));
  await peer.connect(config.url, config.token);
  out({ ev: 'connected', sid: peer.room.localParticipant.sid, identity: peer.room.localParticipant.identity });
  if (config.freq) {
    await peer.publish();
    out({ ev: 'published' });
  }
  let sent = 0;
  const data = config.data && setInterval(() => {
    const text = `${config.data.text} ${++sent}`;
    peer.room.localParticipant.publishData(new TextEncoder().encode(text), { reliable: true, topic: config.data.topic })
      .then(() => out({ ev: 'data_sent', text }), (e) => out({ ev: 'data_failed', error: String(e && e.message) }));
  }, 250);
  const timer = setInterval(() => {
    for (const identity of peer.heard.keys()) {
      const s = peer.recent(identity);
      if (!s) continue;
      const power = {};
      for (const f of [...PROBES, ...(config.probes ?? [])]) power[f] = tonePower(s, f);
      out({ ev: 'heard', identity, rms: Math.round(rms(s)), power });
    }
  }, 200);
  return async () => {
    clearInterval(timer);
    if (data) clearInterval(data);
    await peer.close();
  };
}

let stop = null;
const rl = readline.createInterface({ input: process.stdin });
rl.once('line', (line) => {
  main(JSON.parse(line)).then((s) => (stop = s), (e) => {
    out({ ev: 'error', error: String(e && e.message) });
    process.exit(1);
  });
});
rl.on('close', async () => {
  if (stop) await stop();
  process.exit(0);
});
