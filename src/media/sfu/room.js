'use strict';
// Rooms and participants of the stand-in SFU: LiveKit's v0 signal flow (two PeerConnections per participant) and Opus
// RTP forwarding from every publisher to every other visible subscriber. See index.js for the protocol summary.
const crypto = require('crypto');
const proto = require('@livekit/protocol');
const { RTCPeerConnection, MediaStreamTrack, MediaStream, RtpPacket, useOPUS, useVP8, useSdesMid } = require('werift');
const { answerableSdp } = require('./sdp');

const SERVER_VERSION = '1.9.0';
const PROTOCOL_VERSION = 16;
const MAX_QUEUED_CANDIDATES = 64;
// Data packets (LiveKit's DataPacket on the `_reliable` / `_lossy` data channels). LiveKit's clients refuse reliable messages
// over 15 KiB; 64 KiB is what werift's SCTP carries in one message. Past the rate, packets are dropped and counted.
const MAX_DATA_BYTES = 64 * 1024;
const MAX_DATA_PER_S = 100;
const MAX_DATA_BUFFERED = 1024 * 1024; // a receiver this far behind loses packets, the sender never waits for it
const MAX_DATA_PENDING = 64; // reliable packets held for a receiver whose channel is not open yet
// Kinds a client may send and LiveKit relays; `speaker` (and anything unknown) comes from servers only.
const RELAYED_DATA = new Set(['user', 'chatMessage', 'rpcRequest', 'rpcAck', 'rpcResponse', 'streamHeader', 'streamChunk', 'streamTrailer', 'transcription', 'sipDtmf', 'metrics']);

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
function newId(prefix) {
  const bytes = crypto.randomBytes(12);
  let s = prefix;
  for (const b of bytes) s += ALNUM[b % ALNUM.length];
  return s;
}

const KINDS = {
  standard: proto.ParticipantInfo_Kind.STANDARD,
  ingress: proto.ParticipantInfo_Kind.INGRESS,
  egress: proto.ParticipantInfo_Kind.EGRESS,
  sip: proto.ParticipantInfo_Kind.SIP,
  agent: proto.ParticipantInfo_Kind.AGENT,
};

function sourceName(source) {
  switch (source) {
    case proto.TrackSource.MICROPHONE: return 'microphone';
    case proto.TrackSource.CAMERA: return 'camera';
    case proto.TrackSource.SCREEN_SHARE: return 'screen_share';
    case proto.TrackSource.SCREEN_SHARE_AUDIO: return 'screen_share_audio';
    default: return 'unknown';
  }
}

/**
 * One room: its participants by identity. Created on the first join (or by CreateRoom when the SFU serves the API). Under the
 * C# stand-in it is dropped when the last one leaves; serving the API, as LiveKit: after its departure timeout once the last
 * one left, or its empty timeout when nobody ever joined.
 */
class Room {
  constructor(sfu, name, options = {}) {
    this.sfu = sfu;
    this.name = name;
    this.sid = newId('RM_');
    this.createdAt = Date.now();
    this.participants = new Map(); // identity → Participant
    this.emptyTimeout = options.emptyTimeout || 300; // LiveKit's server defaults
    this.departureTimeout = options.departureTimeout || 20;
    this.maxParticipants = options.maxParticipants || 0;
    this.metadata = options.metadata || '';
    this.apiKey = options.apiKey || ''; // the key that signs this room's webhooks
    this.everJoined = false;
    this.emptySince = Date.now();
  }

  info() {
    return new proto.Room({
      sid: this.sid,
      name: this.name,
      emptyTimeout: this.emptyTimeout,
      departureTimeout: this.departureTimeout,
      maxParticipants: this.maxParticipants || this.sfu.limits.maxParticipantsPerRoom,
      metadata: this.metadata,
      creationTime: BigInt(Math.floor(this.createdAt / 1000)),
      creationTimeMs: BigInt(this.createdAt),
      numParticipants: this.participants.size,
      numPublishers: [...this.participants.values()].filter((p) => p.tracks.size > 0).length,
    });
  }

  visibleOthers(except) {
    return [...this.participants.values()].filter((p) => p !== except && !p.hidden && !p.closed);
  }

  /** Tells every other participant about `p` (LiveKit sends a hidden participant's updates only to itself). */
  broadcastUpdate(p) {
    if (p.hidden) return;
    const info = p.info();
    for (const other of this.participants.values()) {
      if (other !== p && !other.closed) other.send('update', new proto.ParticipantUpdate({ participants: [info] }));
    }
  }
}

/** One participant: its signal socket, publisher PC (the client offers) and subscriber PC (we offer). */
class Participant {
  constructor(sfu, room, grant, ws) {
    this.sfu = sfu;
    this.room = room;
    this.ws = ws;
    this.sid = newId('PA_');
    this.identity = grant.identity;
    this.name = grant.name;
    this.metadata = grant.metadata;
    this.attributes = grant.attributes;
    this.kindName = KINDS[grant.kind] !== undefined ? grant.kind : 'standard';
    this.hidden = grant.hidden;
    this.grant = grant;
    this.joinedAt = Date.now();
    this.closed = false;
    this.lastSeen = Date.now();
    this.tracks = new Map(); // track sid → { info, transceiver, rtpTracks: Set }
    this.pending = []; // add_track requests not yet matched to media: { info }
    this.subscriptions = new Map(); // publisher track sid → { track, transceiver, publisher }
    this.chain = Promise.resolve();
    this.pubCandidates = [];
    this.subCandidates = [];
    this.subNegotiating = false;
    this.subNeedsNegotiation = false;
    this.offerId = 0;
    this.lastSubOffer = null; // resent on a resume when its answer never came
    this.graceTimer = null;
    this.pub = this.newPeerConnection(proto.SignalTarget.PUBLISHER);
    this.sub = this.newPeerConnection(proto.SignalTarget.SUBSCRIBER);
    this.pub.onTrack.subscribe((track) => this.onPublisherTrack(track));
    this.pub.ontrack = (event) => this.onPublisherTrack(event.track, event.transceiver);
    // Data channels the clients look for on the subscriber side: what others publish reaches this participant on them.
    this.subReliable = this.sub.createDataChannel('_reliable', { ordered: true });
    this.subLossy = this.sub.createDataChannel('_lossy', { ordered: false, maxRetransmits: 0 });
    this.dataPending = [];
    this.subReliable.stateChanged.subscribe((state) => {
      if (state !== 'open') return;
      const queued = this.dataPending;
      this.dataPending = [];
      for (const buf of queued) this.sendData(buf, true);
    });
    // What this participant publishes arrives on the data channels its client opens on the publisher PC.
    this.dataWindowStart = 0;
    this.dataInWindow = 0;
    this.pub.onDataChannel.subscribe((channel) => {
      if (channel.label !== '_reliable' && channel.label !== '_lossy') return; // `_data_track` and others: not relayed
      const reliable = channel.label === '_reliable';
      channel.onMessage.subscribe((data) => this.onData(data, reliable));
    });
  }

  newPeerConnection(target) {
    const pc = new RTCPeerConnection({
      codecs: { audio: [useOPUS()], video: [useVP8()] },
      headerExtensions: { audio: [useSdesMid()], video: [] },
      iceServers: [], // loopback only: never ask a public STUN server
      iceUseIpv6: false,
      iceAdditionalHostAddresses: this.sfu.iceHosts,
    });
    if (this.sfu.debug) pc.iceConnectionStateChange.subscribe((st) => this.sfu.log(`${this.sid} ${target === proto.SignalTarget.PUBLISHER ? 'publisher' : 'subscriber'} ICE ${st}`));
    pc.onIceCandidate.subscribe((candidate) => {
      if (!candidate || this.closed) return;
      this.send('trickle', new proto.TrickleRequest({ candidateInit: JSON.stringify(candidate.toJSON()), target }));
    });
    return pc;
  }

  info() {
    return new proto.ParticipantInfo({
      sid: this.sid,
      identity: this.identity,
      name: this.name,
      metadata: this.metadata,
      attributes: this.attributes,
      state: this.closed ? proto.ParticipantInfo_State.DISCONNECTED : proto.ParticipantInfo_State.ACTIVE,
      tracks: [...this.tracks.values()].map((t) => t.info),
      joinedAt: BigInt(Math.floor(this.joinedAt / 1000)),
      joinedAtMs: BigInt(this.joinedAt),
      version: 1,
      permission: new proto.ParticipantPermission({
        canSubscribe: this.grant.canSubscribe,
        canPublish: this.grant.canPublish,
        canPublishData: this.grant.canPublishData,
        hidden: this.hidden,
        recorder: this.grant.recorder,
        agent: this.kindName === 'agent' || this.grant.agent,
      }),
      isPublisher: this.tracks.size > 0,
      kind: KINDS[this.kindName],
    });
  }

  send(kind, value) {
    if (!this.ws || this.ws.readyState !== 1) return;
    try {
      this.ws.send(new proto.SignalResponse({ message: { case: kind, value } }).toBinary());
      if (this.sfu.debug) this.sfu.log(`${this.sid} → ${kind}`);
      this.sfu.stats.signal_out++;
    } catch (e) {
      this.sfu.log('send failed', e.message);
    }
  }

  /** Runs signal handling one message at a time, so werift's async calls never interleave for one participant. */
  enqueue(fn) {
    this.chain = this.chain.then(() => (this.closed ? undefined : fn())).catch((e) => {
      this.sfu.stats.errors++;
      this.sfu.log(`participant ${this.sid}: ${e && e.message}`);
    });
    return this.chain;
  }

  sendJoin() {
    const others = this.room.visibleOthers(this).map((p) => p.info());
    this.send('join', new proto.JoinResponse({
      room: this.room.info(),
      participant: this.info(),
      otherParticipants: others,
      serverVersion: SERVER_VERSION,
      serverInfo: new proto.ServerInfo({ edition: proto.ServerInfo_Edition.Standard, version: SERVER_VERSION, protocol: PROTOCOL_VERSION, nodeId: this.sfu.nodeId }),
      subscriberPrimary: true,
      pingInterval: 5,
      pingTimeout: 15,
    }));
    // Subscribe to what the others already publish, then offer the subscriber PC (data channels + those tracks).
    if (this.grant.canSubscribe) for (const p of this.room.visibleOthers(this)) for (const t of p.tracks.values()) this.subscribe(p, t, false);
    this.enqueue(() => this.negotiateSubscriber());
  }

  /**
   * Back on a new signal socket within the grace period (LiveKit's resume): ReconnectResponse first (rtc-node requires it),
   * then what the client may have missed meanwhile: the others as they are now, and a subscriber offer still unanswered.
   * The client then sends an ICE-restart publisher offer, answered as any other.
   */
  resume() {
    this.send('reconnect', new proto.ReconnectResponse({ iceServers: [] }));
    const others = this.room.visibleOthers(this).map((p) => p.info());
    if (others.length > 0) this.send('update', new proto.ParticipantUpdate({ participants: others }));
    if (this.subNegotiating && this.lastSubOffer) this.send('offer', this.lastSubOffer);
  }

  handle(req) {
    this.lastSeen = Date.now();
    const { case: kind, value } = req.message;
    if (this.sfu.debug) this.sfu.log(`${this.sid} ← ${kind}`);
    switch (kind) {
      case 'pingReq':
        this.send('pongResp', new proto.Pong({ lastPingTimestamp: value.timestamp, timestamp: BigInt(Date.now()) }));
        return;
      case 'ping':
        this.send('pong', BigInt(Date.now()));
        return;
      case 'trickle':
        this.enqueue(() => this.addCandidate(value));
        return;
      case 'offer':
        this.enqueue(() => this.answerPublisher(value));
        return;
      case 'answer':
        this.enqueue(() => this.onSubscriberAnswer(value));
        return;
      case 'addTrack':
        this.addTrack(value);
        return;
      case 'mute':
        this.setMuted(value.sid, value.muted, false);
        return;
      case 'leave':
        this.sfu.removeParticipant(this, 'client_initiated');
        return;
      default:
        return; // subscription, track_setting, update_metadata, sync_state, simulate…: not needed by a stand-in
    }
  }

  async addCandidate(trickle) {
    const queue = trickle.target === proto.SignalTarget.SUBSCRIBER ? this.subCandidates : this.pubCandidates;
    const pc = trickle.target === proto.SignalTarget.SUBSCRIBER ? this.sub : this.pub;
    let init;
    try {
      init = JSON.parse(trickle.candidateInit);
    } catch {
      return;
    }
    if (!init || typeof init.candidate !== 'string' || init.candidate === '') return;
    if (!pc.remoteDescription) {
      if (queue.length < MAX_QUEUED_CANDIDATES) queue.push(init);
      return;
    }
    await pc.addIceCandidate(init);
  }

  async flushCandidates(pc, queue) {
    while (queue.length) await pc.addIceCandidate(queue.shift()).catch(() => undefined);
  }

  addTrack(req) {
    const limits = this.sfu.limits;
    if (!this.grant.canPublish || req.type !== proto.TrackType.AUDIO
        || this.tracks.size + this.pending.length >= limits.maxTracksPerParticipant) {
      this.sfu.stats.tracks_refused++;
      this.sfu.log(`participant ${this.sid}: add_track refused (${!this.grant.canPublish ? 'no publish grant' : req.type !== proto.TrackType.AUDIO ? 'audio only' : 'track limit'})`);
      return;
    }
    const info = new proto.TrackInfo({
      sid: newId('TR_'),
      type: proto.TrackType.AUDIO,
      name: req.name,
      muted: req.muted,
      source: req.source,
      mimeType: 'audio/opus',
      stereo: req.stereo,
      disableDtx: req.disableDtx,
      stream: req.stream,
    });
    this.pending.push({ info });
    this.send('trackPublished', new proto.TrackPublishedResponse({ cid: req.cid, track: info }));
  }

  async answerPublisher(offer) {
    await this.pub.setRemoteDescription({ type: 'offer', sdp: offer.sdp });
    await this.flushCandidates(this.pub, this.pubCandidates);
    const answer = await this.pub.createAnswer();
    await this.pub.setLocalDescription(answer);
    this.send('answer', new proto.SessionDescription({ type: 'answer', sdp: answerableSdp(this.pub.localDescription.sdp), id: offer.id }));
    this.restartIceIfNeeded(this.pub);
  }

  /**
   * An ICE-restart offer (a resumed client's) makes werift restart its ICE agent, but its connect() skips any transport whose
   * DTLS is still up, so the new ICE session never starts checks and media stops. Start it here; DTLS rides on it unchanged.
   */
  restartIceIfNeeded(pc) {
    for (const dtls of pc.dtlsTransports ?? []) {
      const ice = dtls.iceTransport;
      if (!ice || !(ice.iceRestarts > (ice.voiceactorsStarted ?? 0)) || dtls.state !== 'connected') continue;
      ice.voiceactorsStarted = ice.iceRestarts;
      this.sfu.stats.ice_restarts++;
      ice.start().catch((e) => this.sfu.log(`participant ${this.sid}: ICE restart failed: ${e && e.message}`));
    }
  }

  /** A media track from the client: the first pending add_track of the same type is the one it publishes (participant.go). */
  onPublisherTrack(track, transceiver) {
    if (this.closed || !track || track.kind !== 'audio') return;
    for (const t of this.tracks.values()) {
      if ((transceiver && t.transceiver === transceiver) || t.rtpTracks.has(track)) {
        this.listen(t, track);
        return;
      }
    }
    if (!transceiver) return; // the RTCTrackEvent that follows carries the transceiver
    const pending = this.pending.shift();
    if (!pending) return;
    const published = { info: pending.info, transceiver, rtpTracks: new Set(), muted: pending.info.muted };
    published.info.mid = transceiver.mid || '';
    this.tracks.set(published.info.sid, published);
    this.listen(published, track);
    for (const r of transceiver.receiver.tracks) this.listen(published, r);
    this.sfu.emit({
      ev: 'track_published', room: this.room.name, identity: this.identity, participantSid: this.sid,
      trackSid: published.info.sid, type: 'audio', source: sourceName(published.info.source), mimeType: 'audio/opus',
      name: published.info.name, muted: published.info.muted,
    });
    this.sfu.webhooks.notify('track_published', this.room, this, published.info);
    this.sfu.stats.tracks_published++;
    // The others learn of the track before the subscriber offer that carries it.
    this.room.broadcastUpdate(this);
    if (!this.hidden) for (const other of this.room.visibleOthersAll(this)) if (other.grant.canSubscribe) other.subscribe(this, published, true);
  }

  listen(published, track) {
    if (published.rtpTracks.has(track)) return;
    published.rtpTracks.add(track);
    track.onReceiveRtp.subscribe((rtp) => this.forward(published, rtp));
  }

  /** Opus RTP as received, minus the publisher's header extensions (their ids belong to the publisher's SDP). */
  forward(published, rtp) {
    this.sfu.stats.rtp_in++;
    if (published.muted || this.closed) return;
    const subs = published.subscribers;
    if (!subs || subs.size === 0) return;
    rtp.header.extensions = [];
    rtp.header.extension = false;
    let buf;
    try {
      buf = rtp.serialize();
    } catch {
      return;
    }
    for (const s of subs) {
      s.track.writeRtp(buf);
      this.sfu.stats.rtp_out++;
    }
  }

  /** Adds `publisher`'s track to this participant's subscriber PC (stream id PA_x|TR_y, as both clients parse it). */
  subscribe(publisher, published, renegotiate) {
    if (this.closed || this.subscriptions.has(published.info.sid)) return;
    const track = new MediaStreamTrack({ kind: 'audio' });
    const stream = new MediaStream({ id: `${publisher.sid}|${published.info.sid}` });
    const transceiver = this.sub.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
    transceiver.sender.trackId = published.info.sid;
    const sub = { track, transceiver, publisher, published };
    this.subscriptions.set(published.info.sid, sub);
    (published.subscribers ??= new Set()).add(sub);
    if (renegotiate) this.enqueue(() => this.negotiateSubscriber());
  }

  unsubscribe(trackSid, renegotiate) {
    const sub = this.subscriptions.get(trackSid);
    if (!sub) return;
    this.subscriptions.delete(trackSid);
    sub.published.subscribers?.delete(sub);
    sub.track.stop();
    if (this.closed) return;
    try {
      this.sub.removeTrack(sub.transceiver.sender);
    } catch {
      // the PC is closing
    }
    if (renegotiate) this.enqueue(() => this.negotiateSubscriber());
  }

  async negotiateSubscriber() {
    if (this.closed) return;
    if (this.subNegotiating) {
      this.subNeedsNegotiation = true;
      return;
    }
    this.subNegotiating = true;
    this.subNeedsNegotiation = false;
    const offer = await this.sub.createOffer();
    await this.sub.setLocalDescription(offer);
    this.lastSubOffer = new proto.SessionDescription({ type: 'offer', sdp: this.sub.localDescription.sdp, id: ++this.offerId });
    this.send('offer', this.lastSubOffer);
  }

  async onSubscriberAnswer(answer) {
    if (!this.subNegotiating) return;
    await this.sub.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
    await this.flushCandidates(this.sub, this.subCandidates);
    this.subNegotiating = false;
    if (this.subNeedsNegotiation) await this.negotiateSubscriber();
  }

  setMuted(trackSid, muted, fromServer) {
    const t = this.tracks.get(trackSid);
    if (!t) return false;
    t.muted = muted;
    t.info.muted = muted;
    if (fromServer) this.send('mute', new proto.MuteTrackRequest({ sid: trackSid, muted }));
    this.room.broadcastUpdate(this);
    return true;
  }

  /**
   * A DataPacket from this participant, relayed as LiveKit does (participant.go, room.go): the sender's sid and identity are
   * set by the server, never taken from the packet; `destination_identities` narrows the receivers. Garbage, an oversized
   * or unknown packet, a participant without canPublishData and a flood are dropped and counted, never fatal.
   */
  onData(data, reliable) {
    const stats = this.sfu.stats;
    if (this.closed) return;
    const now = Date.now();
    if (now - this.dataWindowStart >= 1000) {
      this.dataWindowStart = now;
      this.dataInWindow = 0;
    }
    if (++this.dataInWindow > MAX_DATA_PER_S) {
      stats.data_rate_limited++;
      return;
    }
    if (typeof data === 'string' || !data || data.length === 0 || data.length > MAX_DATA_BYTES) {
      stats.data_garbage++;
      return;
    }
    let packet;
    try {
      packet = proto.DataPacket.fromBinary(new Uint8Array(data));
    } catch {
      stats.data_garbage++;
      return;
    }
    const kind = packet.value && packet.value.case;
    if (!RELAYED_DATA.has(kind)) {
      stats.data_garbage++;
      return;
    }
    if (!this.grant.canPublishData) {
      stats.data_refused++;
      return;
    }
    stats.data_in++;
    packet.participantIdentity = this.identity;
    packet.participantSid = this.sid;
    let destinations = packet.destinationIdentities;
    if (kind === 'user') {
      const user = packet.value.value;
      user.participantIdentity = this.identity;
      user.participantSid = this.sid;
      if (destinations.length === 0) destinations = user.destinationIdentities;
    }
    const only = destinations.length > 0 ? new Set(destinations) : null;
    const buf = Buffer.from(packet.toBinary());
    for (const other of this.room.participants.values()) {
      if (other === this || other.closed || (only && !only.has(other.identity))) continue;
      other.sendData(buf, reliable);
    }
  }

  /** Sends a relayed DataPacket to this participant's client; a full or closed channel drops it (counted). */
  sendData(buf, reliable) {
    const stats = this.sfu.stats;
    const channel = reliable ? this.subReliable : this.subLossy;
    if (this.closed) return;
    if (channel.readyState !== 'open') {
      if (reliable && channel.readyState === 'connecting' && this.dataPending.length < MAX_DATA_PENDING) this.dataPending.push(buf);
      else stats.data_dropped++;
      return;
    }
    if (channel.bufferedAmount > MAX_DATA_BUFFERED) {
      stats.data_dropped++;
      return;
    }
    try {
      channel.send(buf);
      stats.data_out++;
    } catch {
      stats.data_dropped++;
    }
  }

  /** Tells the client to leave (reason: a DisconnectReason) and closes everything of this participant. */
  close(reason, action = proto.LeaveRequest_Action.DISCONNECT) {
    if (this.closed) return;
    if (reason !== undefined) this.send('leave', new proto.LeaveRequest({ canReconnect: action !== proto.LeaveRequest_Action.DISCONNECT, reason, action }));
    this.closed = true;
    for (const sid of [...this.subscriptions.keys()]) this.unsubscribe(sid, false);
    for (const t of this.tracks.values()) for (const s of [...(t.subscribers ?? [])]) s.track.stop();
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      try {
        ws.close(1000);
      } catch {
        // already gone
      }
      setTimeout(() => ws.terminate(), 1000).unref();
    }
    this.pub.close().catch(() => undefined);
    this.sub.close().catch(() => undefined);
  }
}

Room.prototype.visibleOthersAll = function (except) {
  // Everyone else receives a visible publisher's tracks, hidden participants included (they only hide themselves).
  return [...this.participants.values()].filter((p) => p !== except && !p.closed);
};

module.exports = { Room, Participant, newId, RtpPacket };
