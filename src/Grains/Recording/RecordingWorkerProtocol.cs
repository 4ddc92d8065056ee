using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace VoiceActors.Recording;

/// <summary>Messages on the silo ⇄ recording worker pipes (the worker's stdin and stdout).</summary>
internal enum WorkerMessage : byte
{
    // silo → worker
    Config = 0x01,
    Start = 0x02,
    Frame = 0x03,
    Tick = 0x04,
    Complete = 0x05,

    // worker → silo
    Ready = 0x81,
    ChunkStored = 0x82,
    ChunkDropped = 0x83,
    StoreFailed = 0x84,
    Completed = 0x85,
    Counters = 0x86,
}

/// <summary>
/// The framing both ways: <c>u32 length | u8 type | u32 recording | payload</c>, little-endian, the length counting what follows
/// it. Both ends are this assembly (the worker is the silo's own binary), so a malformed frame is a bug and ends the pipe.
/// </summary>
internal static class WorkerWire
{
    public const int HeaderBytes = 9;
    public const int MaxFrameBytes = 1024 * 1024;

    /// <summary>Appends one message: the header, then whatever <paramref name="payload"/> writes.</summary>
    public static void Write(IBufferWriter<byte> output, WorkerMessage type, uint recording, int payloadBytes, ReadOnlySpan<byte> payload = default)
    {
        var span = output.GetSpan(HeaderBytes + payload.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(span, (uint)(5 + payloadBytes));
        span[4] = (byte)type;
        BinaryPrimitives.WriteUInt32LittleEndian(span[5..], recording);
        payload.CopyTo(span[HeaderBytes..]);
        output.Advance(HeaderBytes + payload.Length);
    }

    /// <summary>A frame of audio as it arrived at the silo: lane (0 candidate, 1 agent), arrival ticks (UTC), PCM.</summary>
    public static void WriteFrame(IBufferWriter<byte> output, uint recording, int lane, long atTicks, ReadOnlySpan<byte> pcm)
    {
        Write(output, WorkerMessage.Frame, recording, 9 + pcm.Length);
        var span = output.GetSpan(9 + pcm.Length);
        span[0] = (byte)lane;
        BinaryPrimitives.WriteInt64LittleEndian(span[1..], atTicks);
        pcm.CopyTo(span[9..]);
        output.Advance(9 + pcm.Length);
    }

    public static void WriteLong(IBufferWriter<byte> output, WorkerMessage type, uint recording, long value)
    {
        Span<byte> payload = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(payload, value);
        Write(output, type, recording, 8, payload);
    }

    /// <summary>A message whose payload is strings, each <c>u16 length | UTF-8</c>.</summary>
    public static void WriteStrings(IBufferWriter<byte> output, WorkerMessage type, uint recording, params ReadOnlySpan<string> values)
    {
        var bytes = 0;
        foreach (var v in values) bytes += 2 + Encoding.UTF8.GetByteCount(v);
        Write(output, type, recording, bytes);
        foreach (var v in values)
        {
            var n = Encoding.UTF8.GetByteCount(v);
            var span = output.GetSpan(2 + n);
            BinaryPrimitives.WriteUInt16LittleEndian(span, checked((ushort)n));
            Encoding.UTF8.GetBytes(v, span[2..]);
            output.Advance(2 + n);
        }
    }

    public static string ReadString(ref ReadOnlySpan<byte> payload)
    {
        var n = BinaryPrimitives.ReadUInt16LittleEndian(payload);
        var s = Encoding.UTF8.GetString(payload.Slice(2, n));
        payload = payload[(2 + n)..];
        return s;
    }

    public static long ReadLong(ref ReadOnlySpan<byte> payload)
    {
        var v = BinaryPrimitives.ReadInt64LittleEndian(payload);
        payload = payload[8..];
        return v;
    }

    public static double ReadDouble(ref ReadOnlySpan<byte> payload)
    {
        var v = BinaryPrimitives.ReadDoubleLittleEndian(payload);
        payload = payload[8..];
        return v;
    }
}

/// <summary>Reads whole messages off a pipe with blocking reads (each end reads on a thread of its own).</summary>
internal sealed class WorkerFrameReader(Stream stream)
{
    private byte[] _buffer = new byte[256 * 1024];
    private int _start;
    private int _end;

    /// <summary>The next message; false at the end of the stream. The payload is valid until the next call.</summary>
    public bool Next(out WorkerMessage type, out uint recording, out ReadOnlySpan<byte> payload)
    {
        type = default;
        recording = 0;
        payload = default;
        if (!Fill(4)) return false;
        var length = (int)BinaryPrimitives.ReadUInt32LittleEndian(_buffer.AsSpan(_start));
        if (length is < 5 or > WorkerWire.MaxFrameBytes) throw new InvalidDataException($"a recording worker frame of {length} bytes");
        if (!Fill(4 + length)) return false;
        var frame = _buffer.AsSpan(_start + 4, length);
        type = (WorkerMessage)frame[0];
        recording = BinaryPrimitives.ReadUInt32LittleEndian(frame[1..]);
        payload = frame[5..];
        _start += 4 + length;
        return true;
    }

    private bool Fill(int bytes)
    {
        if (_start == _end) _start = _end = 0;
        if (_end - _start >= bytes) return true;
        if (_buffer.Length - _start < bytes)
        {
            var bigger = _buffer.Length >= bytes ? _buffer : new byte[Math.Max(bytes, _buffer.Length * 2)];
            Buffer.BlockCopy(_buffer, _start, bigger, 0, _end - _start);
            _buffer = bigger;
            _end -= _start;
            _start = 0;
        }
        while (_end - _start < bytes)
        {
            var n = stream.Read(_buffer, _end, _buffer.Length - _end);
            if (n == 0) return false;
            _end += n;
        }
        return true;
    }
}
