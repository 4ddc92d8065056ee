'use strict';
// The bridge's own cost on the audio path, without a room: AUDIO_OUT written -> the same frame back as AUDIO_IN
// (BRIDGE_FAKE_ROOMS loopback), paced at real time. Usage: node pipe-latency.js [frames] [sessions]
const { BridgeClient, pace, tone } = require('./client');
const P = require('../protocol');

(async () => {
  const frames = Number(process.argv[2] || 500);
  const sessions = Number(process.argv[3] || 1);
  const bridge = new BridgeClient({ BRIDGE_FAKE_ROOMS: '1' });
  for (let s = 1; s <= sessions; s++) await bridge.join(s, { url: 'ws://fake', token: 't', identity: `a${s}` });
  const sent = new Map();
  const lat = [];
  bridge.on((f) => { if (f.type === P.Up.AUDIO_IN && f.session === 1 && sent.has(f.seq)) lat.push(f.at - sent.get(f.seq)); });
  const frame = tone(1000, 8000);
  await pace((i) => { sent.set(i, performance.now()); for (let s = 1; s <= sessions; s++) bridge.audio(s, i, frame); }, frames).done;
  await new Promise((r) => setTimeout(r, 200));
  lat.sort((a, b) => a - b);
  const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))].toFixed(2);
  console.log(`pipe round trip through the bridge (${sessions} sessions, ${lat.length} frames of session 1): p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${q(1)} ms; load average ${require('os').loadavg()[0].toFixed(1)}`);
  await bridge.stop();
})();
