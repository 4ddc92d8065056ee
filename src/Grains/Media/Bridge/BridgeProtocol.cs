using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace VoiceActors.Media.Bridge;

/// <summary>Frame types of the silo ⇄ bridge pipe (src/media/bridge/README.md is the contract; protocol.js the other side).</summary>
public enum BridgeFrameType : byte
{
    Join = 0x01,
    Leave = 0x02,
    AudioOut = 0x03,
    Clear = 0x04,
    Ping = 0x05,
    Data = 0x06,
    State = 0x81,
    Track = 0x82,
    AudioIn = 0x83,
    Stats = 0x84,
    Error = 0x85,
    Pong = 0x86,
}

/// <summary>
/// The wire format: <c>u32 length | u8 type | u32 session | payload</c>, little-endian, the length counting everything after
/// itself. Writers fill caller-provided (pooled) spans; nothing here allocates on the audio path.
/// </summary>
public static class BridgeProtocol
{
    public const int HeaderBytes = 9;
    public const int MinLength = 5;
    public const int MaxLength = 64 * 1024;

    /// <summary>A whole AUDIO_OUT frame: header, u32 sequence, one 20 ms frame.</summary>
    public const int AudioOutBytes = HeaderBytes + 4 + AudioFormat.FrameBytes;

    /// <summary>AUDIO_IN payload: u32 sequence, i64 capture time (unix µs), one 20 ms frame.</summary>
    public const int AudioInPayloadBytes = 12 + AudioFormat.FrameBytes;

    public const int MaxPingBytes = 64;

    /// <summary>The largest DATA payload the bridge publishes: livekit-client refuses reliable messages over 15 KiB.</summary>
    public const int MaxDataBytes = 15 * 1024;

    /// <summary>Whether a header can start a frame of this type: lengths that do not fit their type are garbage.</summary>
    public static bool IsPlausible(byte type, int length) => (BridgeFrameType)type switch
    {
        BridgeFrameType.Join => length is >= MinLength + 10 and <= MaxLength,
        BridgeFrameType.Leave or BridgeFrameType.Clear => length == MinLength,
        BridgeFrameType.AudioOut => length == AudioOutBytes - 4,
        BridgeFrameType.Ping or BridgeFrameType.Pong => length <= MinLength + MaxPingBytes,
        BridgeFrameType.Data => length is >= MinLength + 3 and <= MaxLength,
        BridgeFrameType.State => length is >= MinLength + 3 and <= MaxLength,
        BridgeFrameType.Track => length is >= MinLength + 5 and <= MaxLength,
        BridgeFrameType.AudioIn => length == MinLength + AudioInPayloadBytes,
        BridgeFrameType.Stats => length > MinLength && length <= MaxLength && (length - MinLength) % 8 == 0,
        BridgeFrameType.Error => length is >= MinLength + 4 and <= MaxLength,
        _ => false,
    };

    public static int WriteHeader(Span<byte> destination, BridgeFrameType type, uint session, int payloadBytes)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination, (uint)(MinLength + payloadBytes));
        destination[4] = (byte)type;
        BinaryPrimitives.WriteUInt32LittleEndian(destination[5..], session);
        return HeaderBytes;
    }

    /// <summary>LEAVE or CLEAR: a header alone.</summary>
    public static int WriteEmpty(Span<byte> destination, BridgeFrameType type, uint session) => WriteHeader(destination, type, session, 0);

    /// <summary>One AUDIO_OUT frame; PCM shorter than a frame is padded with silence (a provider's last partial frame).</summary>
    public static int WriteAudioOut(Span<byte> destination, uint session, uint sequence, ReadOnlySpan<byte> pcm)
    {
        WriteHeader(destination, BridgeFrameType.AudioOut, session, 4 + AudioFormat.FrameBytes);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[HeaderBytes..], sequence);
        var samples = destination.Slice(HeaderBytes + 4, AudioFormat.FrameBytes);
        var n = Math.Min(pcm.Length, AudioFormat.FrameBytes);
        pcm[..n].CopyTo(samples);
        samples[n..].Clear();
        return AudioOutBytes;
    }

    public static int WritePing(Span<byte> destination, uint session, ulong nonce)
    {
        WriteHeader(destination, BridgeFrameType.Ping, session, 8);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[HeaderBytes..], nonce);
        return HeaderBytes + 8;
    }

    /// <summary>JOIN (control path, once per session): url, token, identity, log name, candidate identity, queue ms, flags.</summary>
    public static int JoinBytes(AgentJoin join, string name) =>
        HeaderBytes + StringBytes(join.Url) + StringBytes(join.Token) + StringBytes(join.Identity) + StringBytes(name)
        + StringBytes(join.CandidateIdentity ?? "") + 3;

    public static int WriteJoin(Span<byte> destination, uint session, AgentJoin join, string name, int queueMilliseconds, bool autoSubscribe)
    {
        var total = JoinBytes(join, name);
        if (total - 4 > MaxLength) throw new ArgumentException($"A JOIN of {total} bytes exceeds the pipe's {MaxLength}-byte frame limit.", nameof(join));
        WriteHeader(destination, BridgeFrameType.Join, session, total - HeaderBytes);
        var o = HeaderBytes;
        o += WriteString(destination[o..], join.Url);
        o += WriteString(destination[o..], join.Token);
        o += WriteString(destination[o..], join.Identity);
        o += WriteString(destination[o..], name);
        o += WriteString(destination[o..], join.CandidateIdentity ?? "");
        BinaryPrimitives.WriteUInt16LittleEndian(destination[o..], checked((ushort)queueMilliseconds));
        destination[o + 2] = autoSubscribe ? (byte)1 : (byte)0;
        return o + 3;
    }

    public static int DataBytes(string topic, int payloadBytes) => HeaderBytes + 1 + StringBytes(topic) + payloadBytes;

    /// <summary>DATA: <c>u8 flags</c> (bit 0 reliable), topic, payload; the bridge publishes it into the room as LiveKit data.</summary>
    public static int WriteData(Span<byte> destination, uint session, string topic, ReadOnlySpan<byte> payload, bool reliable)
    {
        if (payload.IsEmpty || payload.Length > MaxDataBytes)
            throw new ArgumentException($"A DATA payload must be 1 to {MaxDataBytes} bytes, not {payload.Length}.", nameof(payload));
        var total = DataBytes(topic, payload.Length);
        WriteHeader(destination, BridgeFrameType.Data, session, total - HeaderBytes);
        var o = HeaderBytes;
        destination[o++] = reliable ? (byte)1 : (byte)0;
        o += WriteString(destination[o..], topic);
        payload.CopyTo(destination[o..]);
        return o + payload.Length;
    }

    // Up frames are written by the bridge; these writers exist so the silo's reader can be tested on exact bytes.
    public static int WriteState(Span<byte> destination, uint session, AgentRoomState state, string reason)
    {
        var o = HeaderBytes;
        destination[o++] = (byte)state;
        o += WriteString(destination[o..], reason);
        WriteHeader(destination, BridgeFrameType.State, session, o - HeaderBytes);
        return o;
    }

    public static int WriteAudioIn(Span<byte> destination, uint session, uint sequence, long captureUnixMicros, ReadOnlySpan<byte> pcm)
    {
        WriteHeader(destination, BridgeFrameType.AudioIn, session, AudioInPayloadBytes);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[HeaderBytes..], sequence);
        BinaryPrimitives.WriteInt64LittleEndian(destination[(HeaderBytes + 4)..], captureUnixMicros);
        pcm[..AudioFormat.FrameBytes].CopyTo(destination[(HeaderBytes + 12)..]);
        return HeaderBytes + AudioInPayloadBytes;
    }

    public static int StringBytes(string s) => 2 + Encoding.UTF8.GetByteCount(s);

    private static int WriteString(Span<byte> destination, string s)
    {
        var n = Encoding.UTF8.GetBytes(s, destination[2..]);
        BinaryPrimitives.WriteUInt16LittleEndian(destination, checked((ushort)n));
        return 2 + n;
    }

    // Readers of up payloads. They return false on a truncated payload instead of throwing: garbage is counted, not fatal.
    public static bool TryReadState(ReadOnlySpan<byte> payload, out AgentRoomState state, out string reason)
    {
        state = default;
        reason = "";
        if (payload.Length < 3 || payload[0] > (byte)AgentRoomState.Failed) return false;
        state = (AgentRoomState)payload[0];
        return TryReadString(payload[1..], out reason, out _);
    }

    public static bool TryReadTrack(ReadOnlySpan<byte> payload, out bool subscribed, out string identity, out string trackSid)
    {
        subscribed = payload.Length > 0 && payload[0] == 1;
        trackSid = "";
        if (payload.Length < 5 || !TryReadString(payload[1..], out identity, out var used)) { identity = ""; return false; }
        return TryReadString(payload[(1 + used)..], out trackSid, out _);
    }

    public static bool TryReadAudioIn(ReadOnlySpan<byte> payload, out uint sequence, out long captureUnixMicros, out ReadOnlySpan<byte> pcm)
    {
        sequence = 0;
        captureUnixMicros = 0;
        pcm = default;
        if (payload.Length != AudioInPayloadBytes) return false;
        sequence = BinaryPrimitives.ReadUInt32LittleEndian(payload);
        captureUnixMicros = BinaryPrimitives.ReadInt64LittleEndian(payload[4..]);
        pcm = payload[12..];
        return true;
    }

    /// <summary>The i-th u64 of a STATS payload, 0 when the bridge sent fewer (an older bridge).</summary>
    public static ulong StatAt(ReadOnlySpan<byte> payload, int index) =>
        (index + 1) * 8 <= payload.Length ? BinaryPrimitives.ReadUInt64LittleEndian(payload[(index * 8)..]) : 0;

    public static bool TryReadError(ReadOnlySpan<byte> payload, out int code, out string message)
    {
        code = payload.Length >= 2 ? BinaryPrimitives.ReadUInt16LittleEndian(payload) : 0;
        message = "";
        return payload.Length >= 4 && TryReadString(payload[2..], out message, out _);
    }

    public static bool TryReadString(ReadOnlySpan<byte> source, out string value, out int bytesUsed)
    {
        value = "";
        bytesUsed = 0;
        if (source.Length < 2) return false;
        var n = BinaryPrimitives.ReadUInt16LittleEndian(source);
        if (source.Length < 2 + n) return false;
        value = Encoding.UTF8.GetString(source.Slice(2, n));
        bytesUsed = 2 + n;
        return true;
    }
}

/// <summary>What a <see cref="BridgeFrameReader"/> hands on. Payloads are views into the reader's buffer, valid during the call.</summary>
public interface IBridgeFrameHandler
{
    void OnFrame(BridgeFrameType type, uint session, ReadOnlySpan<byte> payload);

    /// <summary>A run of bytes that could not start a frame was skipped (counted once per run).</summary>
    void OnGarbage(int skippedBytes, string reason);
}

/// <summary>
/// Incremental parser of the pipe over one pooled buffer: fill <see cref="GetWriteMemory"/>, call <see cref="Advance"/>.
/// A header whose length is out of range, or whose type is unknown or does not fit its length, is skipped a byte at a time
/// and reported as one garbage run, so noise never crashes the reader and rarely swallows a good frame.
/// </summary>
public sealed class BridgeFrameReader : IDisposable
{
    private readonly IBridgeFrameHandler _handler;
    private byte[] _buffer;
    private int _start;
    private int _end;
    private int _skipping;
    private string _reason = "";

    public BridgeFrameReader(IBridgeFrameHandler handler, int initialBytes = 128 * 1024)
    {
        _handler = handler;
        _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(initialBytes, BridgeProtocol.MaxLength + 4));
    }

    public long GarbageBytes { get; private set; }

    /// <summary>Space to read into: at least 4 KiB, after moving any partial frame to the front.</summary>
    public Memory<byte> GetWriteMemory()
    {
        if (_buffer.Length - _end < 4096)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }
        return _buffer.AsMemory(_end);
    }

    public void Advance(int bytes)
    {
        _end += bytes;
        Parse();
    }

    /// <summary>Convenience for tests and small writes: copies <paramref name="data"/> in, in chunks, and parses.</summary>
    public void Push(ReadOnlySpan<byte> data)
    {
        while (data.Length > 0)
        {
            var space = GetWriteMemory().Span;
            var n = Math.Min(space.Length, data.Length);
            data[..n].CopyTo(space);
            data = data[n..];
            Advance(n);
        }
    }

    private void Parse()
    {
        while (_end - _start >= 4)
        {
            var span = _buffer.AsSpan(_start, _end - _start);
            var length = BinaryPrimitives.ReadUInt32LittleEndian(span);
            if (length is < BridgeProtocol.MinLength or > BridgeProtocol.MaxLength)
            {
                Skip("bad length");
                continue;
            }
            if (span.Length < 5) break;
            if (!BridgeProtocol.IsPlausible(span[4], (int)length))
            {
                Skip("unknown type or a length that does not fit it");
                continue;
            }
            if (span.Length < 4 + (int)length) break;
            FlushGarbage();
            var session = BinaryPrimitives.ReadUInt32LittleEndian(span[5..]);
            _start += 4 + (int)length;
            _handler.OnFrame((BridgeFrameType)span[4], session, span.Slice(BridgeProtocol.HeaderBytes, (int)length - BridgeProtocol.MinLength));
        }
        FlushGarbage();
        if (_start == _end) _start = _end = 0;
    }

    private void Skip(string reason)
    {
        if (_skipping++ == 0) _reason = reason;
        _start++;
        GarbageBytes++;
    }

    private void FlushGarbage()
    {
        if (_skipping == 0) return;
        var n = _skipping;
        _skipping = 0;
        _handler.OnGarbage(n, _reason);
    }

    public void Dispose()
    {
        var b = _buffer;
        _buffer = [];
        if (b.Length > 0) ArrayPool<byte>.Shared.Return(b);
    }
}
