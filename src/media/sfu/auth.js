'use strict';
// LiveKit access tokens: HS256 JWTs signed with the API secret, the key named in `iss` (protocol auth/verifier.go).
const crypto = require('crypto');

const LEEWAY_S = 60; // the Go server's leeway
const MAX_TOKEN_CHARS = 16 * 1024;

class AuthError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function b64urlJson(part) {
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
}

/**
 * Verifies a token's signature (HS256 with the secret of the key in `iss`), `exp` and `nbf` against `keys` (Map apiKey →
 * secret). Returns its claims, or throws AuthError. Error messages never contain the token or the secret.
 */
function verifyJwt(token, keys, nowMs = Date.now()) {
  if (typeof token !== 'string' || token.length === 0) throw new AuthError(401, 'no authorization token');
  if (token.length > MAX_TOKEN_CHARS) throw new AuthError(401, 'invalid authorization token: too long');
  const parts = token.split('.');
  if (parts.length !== 3) throw new AuthError(401, 'invalid authorization token: malformed');
  let header, claims;
  try {
    header = b64urlJson(parts[0]);
    claims = b64urlJson(parts[1]);
  } catch {
    throw new AuthError(401, 'invalid authorization token: malformed');
  }
  if (!header || header.alg !== 'HS256') throw new AuthError(401, 'invalid authorization token: unsupported algorithm');
  if (!claims || typeof claims !== 'object' || typeof claims.iss !== 'string') throw new AuthError(401, 'invalid API key');
  const secret = keys.get(claims.iss);
  if (secret === undefined) throw new AuthError(401, 'invalid API key');
  const expected = crypto.createHmac('sha256', secret).update(parts[0] + '.' + parts[1]).digest();
  let actual;
  try {
    actual = Buffer.from(parts[2], 'base64url');
  } catch {
    actual = Buffer.alloc(0);
  }
  if (actual.length !== expected.length || !crypto.timingSafeEqual(actual, expected))
    throw new AuthError(401, 'invalid authorization token: signature is invalid');
  const now = nowMs / 1000;
  if (typeof claims.exp !== 'number') throw new AuthError(401, 'invalid authorization token: exp is required');
  if (now > claims.exp + LEEWAY_S) throw new AuthError(401, 'invalid authorization token: token has expired');
  if (typeof claims.nbf === 'number' && now + LEEWAY_S < claims.nbf)
    throw new AuthError(401, 'invalid authorization token: token is not valid yet');
  return claims;
}

/** Verifies a participant's token against `keys` (as verifyJwt) and returns its join grant, or throws AuthError. */
function verifyToken(token, keys, nowMs = Date.now()) {
  const claims = verifyJwt(token, keys, nowMs);
  const video = claims.video && typeof claims.video === 'object' ? claims.video : null;
  if (!video || video.roomJoin !== true) throw new AuthError(401, 'permissions denied');
  const room = typeof video.room === 'string' ? video.room : '';
  if (!room) throw new AuthError(401, 'permissions denied: no room in the grant');
  const identity = typeof claims.sub === 'string' && claims.sub ? claims.sub : typeof claims.jti === 'string' ? claims.jti : '';
  if (!identity) throw new AuthError(400, 'participant identity cannot be empty');
  if (identity.length > 256 || room.length > 256) throw new AuthError(400, 'identity or room name exceeds limits');

  // Grant defaults as LiveKit's getters: publish and subscribe on, data follows publish.
  const canPublish = video.canPublish !== false;
  return {
    apiKey: claims.iss,
    identity,
    room,
    name: typeof claims.name === 'string' ? claims.name : '',
    metadata: typeof claims.metadata === 'string' ? claims.metadata : '',
    attributes: claims.attributes && typeof claims.attributes === 'object' ? stringMap(claims.attributes) : {},
    kind: typeof claims.kind === 'string' ? claims.kind.toLowerCase() : 'standard',
    canPublish,
    canSubscribe: video.canSubscribe !== false,
    canPublishData: video.canPublishData === undefined ? canPublish : video.canPublishData === true,
    hidden: video.hidden === true,
    recorder: video.recorder === true,
    agent: video.agent === true,
    exp: claims.exp,
    claims,
  };
}

/**
 * LiveKit's refresh token (rtcservice.go, participant.go): the participant's own claims, re-signed with its key, valid for
 * `ttlS` from now, so a client that reconnects after its original token expired still gets in.
 */
function refreshToken(grant, keys, ttlS, nowMs = Date.now()) {
  const secret = keys.get(grant.apiKey);
  if (secret === undefined) return null; // the key was withdrawn: no refresh
  const now = Math.floor(nowMs / 1000);
  const claims = { ...grant.claims, nbf: now, exp: now + ttlS };
  const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const body = enc({ alg: 'HS256', typ: 'JWT' }) + '.' + enc(claims);
  return body + '.' + crypto.createHmac('sha256', secret).update(body).digest('base64url');
}

function stringMap(o) {
  const out = {};
  for (const [k, v] of Object.entries(o)) if (typeof v === 'string') out[k] = v;
  return out;
}

/** The token of a request: `access_token` query (livekit-client) or `Authorization: Bearer` (rtc-node). */
function tokenOf(url, headers) {
  const q = url.searchParams.get('access_token');
  if (q) return q;
  const h = headers['authorization'];
  if (typeof h === 'string' && h.startsWith('Bearer ')) return h.slice(7).trim();
  return '';
}

module.exports = { verifyToken, verifyJwt, tokenOf, refreshToken, AuthError };
