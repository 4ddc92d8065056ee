using System.Buffers.Binary;

namespace VoiceActors.Recording;

/// <summary>
/// The whole interview as one file: a single continuous Ogg Opus stream, not a chain of the stored chunks. One stream because
/// every player and <c>opusinfo</c> take it, while chained Ogg is where players differ (browsers' demuxers and seeking handle a
/// chain badly, and a chain would repeat headers every chunk). The chunks already continue one encoder, so their packets are
/// one stream: their pages are re-stamped on the fly (serial, sequence, granule, flags, CRC), byte for byte the same length, so
/// the file's layout is known up front and any byte range maps onto chunk pages. A chunk lost in a crash, or gone from the
/// store, is Opus-encoded silence of its length, so the timeline keeps its times.
/// </summary>
public sealed class ServedRecording
{
    private const int FramesPerPage = 50;
    private const long Frame48 = 960;
    private readonly RecordingVault _vault;
    private readonly string _tenantId;
    private readonly string _sessionId;
    private readonly OpenedKey _key;
    private readonly uint _serial;
    private readonly byte[] _header;
    private readonly List<Segment> _segments = [];
    private (int Index, byte[] Bytes)? _cached;

    private ServedRecording(RecordingVault vault, string tenantId, string sessionId, OpenedKey key, uint serial, byte[] header)
    {
        (_vault, _tenantId, _sessionId, _key, _serial, _header) = (vault, tenantId, sessionId, key, serial, header);
        Length = header.Length;
    }

    public long Length { get; private set; }

    public double DurationSeconds { get; private set; }

    public int MissingChunks { get; private set; }

    /// <summary>
    /// Authenticates the key, the manifest and every chunk (each read once, never kept), and lays the file out. Null when nothing
    /// was recorded. Throws <see cref="RecordingIntegrityException"/> or <see cref="RecordingStoreException"/>.
    /// </summary>
    public static async Task<ServedRecording?> OpenAsync(RecordingVault vault, string tenantId, string sessionId, CancellationToken ct)
    {
        if (await vault.OpenKeyAsync(tenantId, sessionId, ct) is not { } key) return null;
        if (await vault.ReadManifestAsync(tenantId, sessionId, key, ct) is not { Chunks.Count: > 0 } manifest) return null;
        var serial = (uint)(sessionId.GetHashCode() & 0x7fffffff);
        var layout = new List<(RecordingTimeline.Item Item, byte[]? Ogg)>();
        var preSkip = -1;
        foreach (var item in RecordingTimeline.Of(manifest))
        {
            byte[]? ogg = null;
            if (item.Chunk is { } c)
            {
                ogg = await vault.ReadChunkAsync(tenantId, sessionId, key, c.Index, ct);
                if (ogg is not null && preSkip < 0) preSkip = ChunkStream.Parse(ogg, $"chunk {c.Index}").PreSkip48;
            }
            layout.Add((item, ogg));
        }
        if (preSkip < 0) preSkip = 0;
        using var header = new MemoryStream();
        OggOpus.WritePage(header, serial, 0, 0, OggOpus.FlagBeginOfStream, [OggOpus.OpusHead(2, 24_000, preSkip)]);
        OggOpus.WritePage(header, serial, 1, 0, 0, [OggOpus.OpusTags("VoiceActors", "VOICEACTORS_CHANNELS=candidate,agent", $"VOICEACTORS_STARTED={manifest.StartedAt:O}")]);
        var served = new ServedRecording(vault, tenantId, sessionId, key, serial, header.ToArray());
        served.Build(layout, preSkip);
        return served;
    }

    private void Build(List<(RecordingTimeline.Item Item, byte[]? Ogg)> layout, int preSkip)
    {
        var sequence = 2u;
        long position = 0; // 48 kHz samples served so far
        for (var i = 0; i < layout.Count; i++)
        {
            var (item, ogg) = layout[i];
            var last = i == layout.Count - 1;
            if (ogg is null)
            {
                if (item.Chunk is not null) MissingChunks++;
                var filler = Silence(_serial, item.Samples48, sequence, preSkip + position, last);
                _segments.Add(new Segment(Length, filler.Bytes.Length, -1, 0, 0, 0, filler.Bytes));
                sequence += (uint)filler.Pages;
                position += filler.Samples48;
                Length += filler.Bytes.Length;
                continue;
            }
            var stream = ChunkStream.Parse(ogg, $"chunk {item.Chunk!.Index}");
            _segments.Add(new Segment(Length, stream.AudioLength, item.Chunk.Index, sequence, preSkip + position - stream.PreSkip48, last ? 1 : 0, null));
            sequence += (uint)stream.AudioPages;
            position += stream.Samples48;
            Length += stream.AudioLength;
        }
        DurationSeconds = position / (double)OggOpus.GranuleRate;
    }

    /// <summary>Bytes <c>[offset, offset + count)</c> of the file (fewer at its end).</summary>
    public async Task<byte[]> ReadAsync(long offset, int count, CancellationToken ct)
    {
        if (offset < 0 || offset >= Length || count <= 0) return [];
        var output = new byte[(int)Math.Min(count, Length - offset)];
        var written = 0;
        if (offset < _header.Length)
        {
            written = (int)Math.Min(output.Length, _header.Length - offset);
            _header.AsSpan((int)offset, written).CopyTo(output);
        }
        foreach (var segment in _segments)
        {
            if (written == output.Length) break;
            var at = offset + written;
            if (at >= segment.Offset + segment.Length || at < segment.Offset) continue;
            var bytes = segment.Bytes ?? await RestampedAsync(segment, ct);
            var from = (int)(at - segment.Offset);
            var n = Math.Min(output.Length - written, bytes.Length - from);
            bytes.AsSpan(from, n).CopyTo(output.AsSpan(written));
            written += n;
        }
        return output;
    }

    /// <summary>A chunk's audio pages as they sit in the served stream; the last one decrypted is kept for the next read.</summary>
    private async Task<byte[]> RestampedAsync(Segment segment, CancellationToken ct)
    {
        if (_cached is { } c && c.Index == segment.Chunk) return c.Bytes;
        var ogg = await _vault.ReadChunkAsync(_tenantId, _sessionId, _key, segment.Chunk, ct)
            ?? throw new RecordingStoreException($"chunk {segment.Chunk} disappeared from the store while the recording was read");
        var stream = ChunkStream.Parse(ogg, $"chunk {segment.Chunk}");
        if (stream.AudioLength != segment.Length) throw new RecordingIntegrityException($"chunk {segment.Chunk} changed while the recording was read");
        var bytes = ogg.AsSpan(stream.AudioOffset, stream.AudioLength).ToArray();
        var sequence = segment.FirstSequence;
        var pages = OggOpus.Pages(bytes).ToArray();
        for (var i = 0; i < pages.Length; i++)
        {
            var page = pages[i];
            var isEnd = segment.EndsStream == 1 && i == pages.Length - 1;
            OggOpus.Restamp(bytes.AsSpan(page.Offset, page.Length), _serial, sequence++, page.Granule + segment.GranuleShift,
                isEnd ? OggOpus.FlagEndOfStream : (byte)0);
        }
        _cached = (segment.Chunk, bytes);
        return bytes;
    }

    /// <summary>Opus-encoded silence for a gap, in whole 20 ms frames, as pages continuing the stream.</summary>
    private static (byte[] Bytes, int Pages, long Samples48) Silence(uint serial, long samples48, uint sequence, long granuleBase, bool endsStream)
    {
        var frames = (int)Math.Max(1, samples48 / Frame48);
        var packet = SilencePacket.Value;
        using var output = new MemoryStream();
        var pages = 0;
        long granule = granuleBase;
        for (var i = 0; i < frames; i += FramesPerPage)
        {
            var n = Math.Min(FramesPerPage, frames - i);
            granule += n * Frame48;
            var last = i + n >= frames;
            OggOpus.WritePage(output, serial, sequence + (uint)pages, granule, endsStream && last ? OggOpus.FlagEndOfStream : (byte)0,
                Enumerable.Repeat((ReadOnlyMemory<byte>)packet, n).ToArray());
            pages++;
        }
        return (output.ToArray(), pages, frames * Frame48);
    }

    /// <summary>One 20 ms packet of silence from an encoder past its start-up; any valid packet decodes anywhere in a stream.</summary>
    private static readonly Lazy<byte[]> SilencePacket = new(() =>
    {
        var encoder = RecordingCodec.Encoder();
        try
        {
            var pcm = new short[960];
            var packet = new byte[1500];
            var n = 0;
            for (var i = 0; i < 5; i++) n = encoder.EncodeMultistream(pcm, 480, packet, packet.Length); // past the encoder's start-up
            return packet.AsSpan(0, n).ToArray();
        }
        finally
        {
            (encoder as IDisposable)?.Dispose(); // libopus' state is unmanaged
        }
    });

    private sealed record Segment(long Offset, long Length, int Chunk, uint FirstSequence, long GranuleShift, int EndsStream, byte[]? Bytes);
}

/// <summary>One stored chunk's Ogg stream: where its audio pages start, how many there are, how much audio they hold.</summary>
public sealed record ChunkStream(int PreSkip48, int AudioOffset, int AudioLength, int AudioPages, long Samples48)
{
    public static ChunkStream Parse(byte[] ogg, string what)
    {
        try
        {
            var pages = OggOpus.Pages(ogg).ToArray();
            if (pages.Length < 3) throw new InvalidDataException("fewer than three pages");
            var head = OggOpus.Packets(ogg, pages[0]).First();
            if (!head.Span.StartsWith("OpusHead"u8) || head.Span[9] != 2) throw new InvalidDataException("not a two-channel OpusHead");
            var preSkip = BinaryPrimitives.ReadUInt16LittleEndian(head.Span[10..]);
            var audio = pages[2].Offset;
            return new ChunkStream(preSkip, audio, ogg.Length - audio, pages.Length - 2, pages[^1].Granule - preSkip);
        }
        catch (InvalidDataException e)
        {
            throw new RecordingIntegrityException($"{what} authenticated but is not a recording chunk: {e.Message}"); // a bug of ours, not an attack
        }
    }
}

/// <summary>The manifest as a timeline: chunks in order, with the stretches between them (a chunk lost in a crash) as gaps.</summary>
public static class RecordingTimeline
{
    public sealed record Item(ManifestChunk? Chunk, long Samples48);

    public static IEnumerable<Item> Of(RecordingManifest manifest)
    {
        long position = 0;
        foreach (var chunk in manifest.Chunks.OrderBy(c => c.Start48))
        {
            var gap = chunk.Start48 - position;
            if (gap >= 960) yield return new Item(null, gap / 960 * 960); // whole frames only; a sub-frame jitter is nobody's loss
            position = Math.Max(position, chunk.Start48) + chunk.Samples48;
            yield return new Item(chunk, chunk.Samples48);
        }
    }
}
