#!/usr/bin/env node
'use strict';
/*
 * A stand-in agent on the official @livekit/rtc-node, for the candidate page's end-to-end tests: joins a room as a
 * visible participant of kind agent, publishes a 440 Hz tone (24 kHz mono, 20 ms frames) and reports how loud each remote
 * participant's audio is.
 *
 * Usage: node src/media/tools/tone-agent.js, then one JSON line on stdin:
 *   {"url":"ws://…","room":"…","identity":"…","apiKey":"…","apiSecret":"…"}   (the secret comes on stdin, never argv)
 * Stdout, one JSON line each: {"ev":"joined"} · {"ev":"heard","identity":I,"frames":N,"rms":R} every 250 ms ·
 * {"ev":"error","message":M}. Exits when stdin closes.
 */
const readline = require('readline');
const { AccessToken } = require('livekit-server-sdk');
const { Room, RoomEvent, AudioSource, LocalAudioTrack, TrackPublishOptions, TrackSource, AudioFrame, AudioStream, TrackKind } = require('@livekit/rtc-node');

const RATE = 24000, FRAME = 480;
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const heard = new Map(); // identity → { frames, sumSquares, samples } since the last report

async function run(config) {
  const at = new AccessToken(config.apiKey, config.apiSecret, { identity: config.identity, ttl: '10m' });
  at.kind = 'agent'; // a setter, not a constructor option, in livekit-server-sdk 2.19
  at.addGrant({ roomJoin: true, room: config.room, canPublish: true, canSubscribe: true, canPublishData: true, agent: true });
  const room = new Room();
  room.on(RoomEvent.TrackSubscribed, (track, _pub, participant) => {
    if (track.kind === TrackKind.KIND_AUDIO) consume(track, participant.identity).catch((e) => out({ ev: 'error', message: e.message }));
  });
  await room.connect(config.url, await at.toJwt(), { autoSubscribe: true, dynacast: false });
  const source = new AudioSource(RATE, 1, 100);
  const options = new TrackPublishOptions();
  options.source = TrackSource.SOURCE_MICROPHONE;
  await room.localParticipant.publishTrack(LocalAudioTrack.createAudioTrack('agent-voice', source), options);
  out({ ev: 'joined' });
  setInterval(report, 250);
  let phase = 0;
  const step = (2 * Math.PI * 440) / RATE;
  for (;;) {
    const data = new Int16Array(FRAME);
    for (let i = 0; i < FRAME; i++, phase += step) data[i] = Math.round(Math.sin(phase) * 10000);
    try {
      await source.captureFrame(new AudioFrame(data, RATE, 1, FRAME));
    } catch {
      await new Promise((r) => setTimeout(r, 20)); // not connected right now (a reconnect): keep the clock, drop the frame
    }
  }
}

async function consume(track, identity) {
  for await (const frame of new AudioStream(track, RATE, 1)) {
    const e = heard.get(identity) ?? { frames: 0, sumSquares: 0, samples: 0 };
    for (const s of frame.data) e.sumSquares += (s / 32768) ** 2;
    e.samples += frame.data.length;
    e.frames++;
    heard.set(identity, e);
  }
}

function report() {
  for (const [identity, e] of heard) {
    out({ ev: 'heard', identity, frames: e.frames, rms: e.samples ? Math.sqrt(e.sumSquares / e.samples) : 0 });
    heard.set(identity, { frames: 0, sumSquares: 0, samples: 0 });
  }
}

const lines = readline.createInterface({ input: process.stdin });
lines.once('line', (line) => run(JSON.parse(line)).catch((e) => { out({ ev: 'error', message: e.message }); process.exit(1); }));
lines.on('close', () => process.exit(0));
