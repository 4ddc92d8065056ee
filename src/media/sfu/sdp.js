'use strict';
// werift answers an m-line it will not use with port 0, the BUNDLE-tagged first one included; libwebrtc then drops the
// bundle (ICE stays in "checking", no RTP). LiveKit's own answers keep such m-lines at port 9 with a=inactive.
function answerableSdp(sdp) {
  const lines = sdp.replace(/\r?\n$/, '').split(/\r?\n/);
  let inRejected = false;
  let sawDirection = false;
  const out = [];
  const closeSection = () => {
    if (inRejected && !sawDirection) out.push('a=inactive');
  };
  for (const line of lines) {
    if (line.startsWith('m=')) {
      closeSection();
      const m = /^m=(audio|video) 0 (.*)$/.exec(line);
      inRejected = !!m;
      sawDirection = false;
      out.push(m ? `m=${m[1]} 9 ${m[2]}` : line);
      continue;
    }
    if (inRejected && /^a=(sendrecv|sendonly|recvonly|inactive)$/.test(line)) {
      sawDirection = true;
      out.push('a=inactive');
      continue;
    }
    out.push(line);
  }
  closeSection();
  return out.join('\r\n') + '\r\n';
}

module.exports = { answerableSdp };
