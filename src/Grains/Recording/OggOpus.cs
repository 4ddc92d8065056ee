using System.Buffers.Binary;
using System.Text;

namespace VoiceActors.Recording;

/// <summary>
/// The Ogg container for Opus (RFC 3533 pages, RFC 7845 headers): Concentus encodes packets, this frames them. Granule positions
/// count 48 kHz samples whatever the input rate (RFC 7845 §4).
/// </summary>
public static class OggOpus
{
    public const int GranuleRate = 48_000;
    private const int HeaderSize = 27;
    private const byte FlagContinued = 0x01;
    public const byte FlagBeginOfStream = 0x02;
    public const byte FlagEndOfStream = 0x04;

    private static readonly uint[] CrcTable = BuildCrcTable();

    /// <summary>
    /// OpusHead for two uncoupled mono streams under channel mapping family 1 (left: candidate, right: agent): uncoupled so
    /// neither side's audio leaks into the other through stereo prediction, family 1 because players take it as plain stereo.
    /// </summary>
    public static byte[] OpusHead(int channels, int inputRate, int preSkip48)
    {
        var head = new byte[channels == 1 ? 19 : 21 + channels];
        "OpusHead"u8.CopyTo(head);
        head[8] = 1; // version
        head[9] = (byte)channels;
        BinaryPrimitives.WriteUInt16LittleEndian(head.AsSpan(10), (ushort)preSkip48);
        BinaryPrimitives.WriteUInt32LittleEndian(head.AsSpan(12), (uint)inputRate);
        // output gain 0 (bytes 16-17)
        if (channels == 1) return head;
        head[18] = 1; // mapping family 1
        head[19] = (byte)channels; // stream count: one mono stream per channel
        head[20] = 0; // coupled streams
        for (var i = 0; i < channels; i++) head[21 + i] = (byte)i;
        return head;
    }

    public static byte[] OpusTags(string vendor, params string[] comments)
    {
        var v = Encoding.UTF8.GetBytes(vendor);
        var c = comments.Select(Encoding.UTF8.GetBytes).ToArray();
        var tags = new byte[8 + 4 + v.Length + 4 + c.Sum(x => 4 + x.Length)];
        "OpusTags"u8.CopyTo(tags);
        var at = 8;
        BinaryPrimitives.WriteUInt32LittleEndian(tags.AsSpan(at), (uint)v.Length);
        v.CopyTo(tags, at += 4);
        at += v.Length;
        BinaryPrimitives.WriteUInt32LittleEndian(tags.AsSpan(at), (uint)c.Length);
        at += 4;
        foreach (var x in c)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(tags.AsSpan(at), (uint)x.Length);
            x.CopyTo(tags, at += 4);
            at += x.Length;
        }
        return tags;
    }

    /// <summary>Writes one page holding whole packets (each under 255 × 255 bytes, true of any 20 ms Opus packet).</summary>
    public static void WritePage(Stream output, uint serial, uint sequence, long granule, byte flags, IReadOnlyList<ReadOnlyMemory<byte>> packets)
    {
        var lacing = new List<byte>(packets.Count * 2);
        var bodyLength = 0;
        foreach (var p in packets)
        {
            var n = p.Length;
            while (n >= 255) { lacing.Add(255); n -= 255; }
            lacing.Add((byte)n);
            bodyLength += p.Length;
        }
        if (lacing.Count > 255) throw new ArgumentException("too many packets for one Ogg page", nameof(packets));
        var page = new byte[HeaderSize + lacing.Count + bodyLength];
        "OggS"u8.CopyTo(page);
        page[5] = flags;
        BinaryPrimitives.WriteInt64LittleEndian(page.AsSpan(6), granule);
        BinaryPrimitives.WriteUInt32LittleEndian(page.AsSpan(14), serial);
        BinaryPrimitives.WriteUInt32LittleEndian(page.AsSpan(18), sequence);
        page[26] = (byte)lacing.Count;
        lacing.CopyTo(page, HeaderSize);
        var at = HeaderSize + lacing.Count;
        foreach (var p in packets)
        {
            p.Span.CopyTo(page.AsSpan(at));
            at += p.Length;
        }
        SetCrc(page);
        output.Write(page);
    }

    /// <summary>Rewrites one page in place for its place in a longer stream: serial, sequence, granule, flags, then the CRC.</summary>
    public static void Restamp(Span<byte> page, uint serial, uint sequence, long granule, byte flags)
    {
        page[5] = flags;
        BinaryPrimitives.WriteInt64LittleEndian(page[6..], granule);
        BinaryPrimitives.WriteUInt32LittleEndian(page[14..], serial);
        BinaryPrimitives.WriteUInt32LittleEndian(page[18..], sequence);
        SetCrc(page);
    }

    /// <summary>The pages of a stream, checked (capture pattern, bounds, CRC).</summary>
    public static IEnumerable<OggPage> Pages(ReadOnlyMemory<byte> data)
    {
        var at = 0;
        while (at < data.Length)
        {
            var page = Parse(data.Span, at);
            yield return page;
            at += page.Length;
        }
    }

    private static OggPage Parse(ReadOnlySpan<byte> data, int at)
    {
        if (data.Length - at < HeaderSize || !data.Slice(at, 4).SequenceEqual("OggS"u8))
            throw new InvalidDataException($"no Ogg page at byte {at}");
        int segments = data[at + 26];
        if (data.Length - at < HeaderSize + segments) throw new InvalidDataException($"truncated Ogg page at byte {at}");
        var body = 0;
        for (var i = 0; i < segments; i++) body += data[at + HeaderSize + i];
        var length = HeaderSize + segments + body;
        if (data.Length - at < length) throw new InvalidDataException($"truncated Ogg page at byte {at}");
        var span = data.Slice(at, length);
        var stored = BinaryPrimitives.ReadUInt32LittleEndian(span[22..]);
        if (stored != Crc(span)) throw new InvalidDataException($"Ogg page CRC mismatch at byte {at}");
        return new OggPage(at, length, span[5], BinaryPrimitives.ReadInt64LittleEndian(span[6..]), segments);
    }

    /// <summary>The packets of a page that holds whole packets only (ours never continue a packet across pages).</summary>
    public static IEnumerable<ReadOnlyMemory<byte>> Packets(ReadOnlyMemory<byte> data, OggPage page)
    {
        var header = data.Slice(page.Offset, HeaderSize + page.Segments);
        if ((header.Span[5] & FlagContinued) != 0) throw new InvalidDataException("continued packets are not produced by this recorder");
        var body = page.Offset + HeaderSize + page.Segments;
        var length = 0;
        for (var i = 0; i < page.Segments; i++)
        {
            var lace = header.Span[HeaderSize + i];
            length += lace;
            if (lace == 255) continue;
            yield return data.Slice(body, length);
            body += length;
            length = 0;
        }
        if (length > 0) throw new InvalidDataException("a packet continues past its page");
    }

    private static void SetCrc(Span<byte> page)
    {
        page[22] = page[23] = page[24] = page[25] = 0;
        BinaryPrimitives.WriteUInt32LittleEndian(page[22..], Crc(page));
    }

    /// <summary>RFC 3533's CRC-32: polynomial 0x04c11db7, not reflected, zero initial value and no final xor, CRC field as zero.</summary>
    private static uint Crc(ReadOnlySpan<byte> page)
    {
        uint crc = 0;
        for (var i = 0; i < page.Length; i++)
        {
            var b = i is >= 22 and < 26 ? (byte)0 : page[i];
            crc = (crc << 8) ^ CrcTable[((crc >> 24) & 0xff) ^ b];
        }
        return crc;
    }

    private static uint[] BuildCrcTable()
    {
        var table = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            var r = i << 24;
            for (var j = 0; j < 8; j++) r = (r & 0x80000000) != 0 ? (r << 1) ^ 0x04c11db7 : r << 1;
            table[i] = r;
        }
        return table;
    }
}

/// <summary>Where a page sits in its stream and what it says.</summary>
public readonly record struct OggPage(int Offset, int Length, byte Flags, long Granule, int Segments);
