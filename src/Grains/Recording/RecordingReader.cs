using Concentus;
using VoiceActors.LiveKit;
using VoiceActors.PostSession;

namespace VoiceActors.Recording;

/// <summary>
/// <see cref="IRecordingReader"/> on the stored chunks: one channel decoded and decrypted chunk by chunk as it is read (one
/// chunk in memory at a time), a chunk that is gone (lost in a crash, or missing from the store) as silence of its length.
/// A chunk that fails authentication stops the read with <see cref="RecordingIntegrityException"/>: altered audio is never passed on.
/// </summary>
public sealed class RecordingReader(RecordingVault vault, IGrainFactory grains) : IRecordingReader
{
    public async Task<RecordedChannel?> OpenChannelAsync(string tenantId, string sessionId, ParticipantRole channel, CancellationToken ct = default)
    {
        if (channel is not (ParticipantRole.Candidate or ParticipantRole.Agent)) return null;
        var status = await grains.GetGrain<IComplianceGrain>(sessionId).GetStatus(tenantId);
        if (status is null || !status.Consent.Recording || status.DeletedAt is not null) return null;
        if (await vault.OpenKeyAsync(tenantId, sessionId, ct) is not { } key) return null;
        if (await vault.ReadManifestAsync(tenantId, sessionId, key, ct) is not { Chunks.Count: > 0 } manifest) return null;
        var lane = channel == ParticipantRole.Candidate ? 0 : 1;
        return new RecordedChannel(manifest.StartedAt, new ChannelStream(vault, tenantId, sessionId, key, manifest, lane));
    }

    /// <summary>Forward-only s16le PCM of one channel at 24 kHz.</summary>
    private sealed class ChannelStream(RecordingVault vault, string tenantId, string sessionId, OpenedKey key, RecordingManifest manifest, int lane) : Stream
    {
        private readonly IEnumerator<RecordingTimeline.Item> _items = RecordingTimeline.Of(manifest).GetEnumerator();
        private readonly short[] _decoded = new short[5760 * 2];
        private IOpusMultiStreamDecoder? _decoder;
        private byte[] _buffer = [];
        private int _at;
        private long _position;

        public override async ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken ct = default)
        {
            while (_at == _buffer.Length)
            {
                if (!_items.MoveNext()) return 0;
                _buffer = await DecodeAsync(_items.Current, ct);
                _at = 0;
            }
            var n = Math.Min(destination.Length, _buffer.Length - _at);
            _buffer.AsMemory(_at, n).CopyTo(destination);
            _at += n;
            _position += n;
            return n;
        }

        private async Task<byte[]> DecodeAsync(RecordingTimeline.Item item, CancellationToken ct)
        {
            var samples = (int)(item.Samples48 / 2);
            var ogg = item.Chunk is { } c ? await vault.ReadChunkAsync(tenantId, sessionId, key, c.Index, ct) : null;
            if (ogg is null)
            {
                _decoder = null; // what follows a hole starts a fresh decoder
                return new byte[samples * 2];
            }
            var stream = ChunkStream.Parse(ogg, $"chunk {item.Chunk!.Index}");
            var skip = 0;
            if (_decoder is null || stream.PreSkip48 > 0)
            {
                _decoder = RecordingCodec.Decoder(); // a new recorder (first chunk, or after a crash): a new encoder
                skip = stream.PreSkip48 / 2;
            }
            var pcm = new byte[samples * 2];
            var written = 0;
            foreach (var page in OggOpus.Pages(ogg).Skip(2))
            {
                foreach (var packet in OggOpus.Packets(ogg, page))
                {
                    var n = _decoder.DecodeMultistream(packet.Span, _decoded, 2880, false);
                    for (var i = 0; i < n; i++)
                    {
                        if (skip > 0) { skip--; continue; }
                        if (written >= samples) break;
                        var s = _decoded[2 * i + lane];
                        pcm[2 * written] = (byte)s;
                        pcm[2 * written + 1] = (byte)(s >> 8);
                        written++;
                    }
                }
            }
            return pcm; // the chunk's length in full: a pre-skip at its start leaves silence at its end, times stay aligned
        }

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _position; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing) _items.Dispose();
            base.Dispose(disposing);
        }
    }
}
