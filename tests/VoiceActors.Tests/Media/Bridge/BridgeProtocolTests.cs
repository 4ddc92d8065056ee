using System.Buffers.Binary;
using VoiceActors.Media;
using VoiceActors.Media.Bridge;

namespace VoiceActors.Tests.Media.Bridge;

/// <summary>The pipe's codec on exact bytes: both directions, split and truncated reads, garbage in front of and between frames.</summary>
public sealed class BridgeProtocolTests
{
    private sealed class Recorder : IBridgeFrameHandler
    {
        public readonly List<(BridgeFrameType Type, uint Session, byte[] Payload)> Frames = [];
        public readonly List<(int Skipped, string Reason)> Garbage = [];
        public void OnFrame(BridgeFrameType type, uint session, ReadOnlySpan<byte> payload) => Frames.Add((type, session, payload.ToArray()));
        public void OnGarbage(int skippedBytes, string reason) => Garbage.Add((skippedBytes, reason));
    }

    /// <summary>Counts frames without keeping them: the allocation test's handler.</summary>
    private sealed class Counter : IBridgeFrameHandler
    {
        public int Frames;
        public long Sum;
        public void OnFrame(BridgeFrameType type, uint session, ReadOnlySpan<byte> payload) { Frames++; Sum += payload[4]; }
        public void OnGarbage(int skippedBytes, string reason) { }
    }

    private static byte[] Tone(byte seed)
    {
        var pcm = new byte[AudioFormat.FrameBytes];
        for (var i = 0; i < pcm.Length; i++) pcm[i] = (byte)(seed + i);
        return pcm;
    }

    private static byte[] AudioOut(uint session, uint seq, byte[] pcm)
    {
        var b = new byte[BridgeProtocol.AudioOutBytes];
        BridgeProtocol.WriteAudioOut(b, session, seq, pcm);
        return b;
    }

    [Fact]
    public void AudioOut_round_trips_with_its_header()
    {
        var pcm = Tone(3);
        var bytes = AudioOut(7, 42, pcm);
        Assert.Equal((uint)(bytes.Length - 4), BinaryPrimitives.ReadUInt32LittleEndian(bytes));
        var r = new Recorder();
        using var reader = new BridgeFrameReader(r);
        reader.Push(bytes);
        var (type, session, payload) = Assert.Single(r.Frames);
        Assert.Equal(BridgeFrameType.AudioOut, type);
        Assert.Equal(7u, session);
        Assert.Equal(42u, BinaryPrimitives.ReadUInt32LittleEndian(payload));
        Assert.Equal(pcm, payload[4..]);
        Assert.Empty(r.Garbage);
    }

    [Fact]
    public void Short_provider_frame_is_padded_with_silence()
    {
        var bytes = AudioOut(1, 0, [1, 2, 3, 4]);
        Assert.Equal(BridgeProtocol.AudioOutBytes, bytes.Length);
        Assert.Equal([1, 2, 3, 4], bytes[13..17]);
        Assert.All(bytes[17..], b => Assert.Equal(0, b));
    }

    [Fact]
    public void Join_carries_every_field_and_its_record_never_prints_the_token()
    {
        var join = new AgentJoin("ws://127.0.0.1:7880", "eyJhbGciOiJIUzI1NiJ9.secret.sig", "agent-s1", "candidate-s1");
        var buffer = new byte[BridgeProtocol.JoinBytes(join, "s1")];
        var n = BridgeProtocol.WriteJoin(buffer, 9, join, "s1", 1000, autoSubscribe: true);
        Assert.Equal(buffer.Length, n);
        var r = new Recorder();
        using var reader = new BridgeFrameReader(r);
        reader.Push(buffer);
        var (type, session, payload) = Assert.Single(r.Frames);
        Assert.Equal((BridgeFrameType.Join, 9u), (type, session));
        var o = 0;
        var fields = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            Assert.True(BridgeProtocol.TryReadString(payload.AsSpan(o), out var s, out var used));
            fields.Add(s);
            o += used;
        }
        Assert.Equal([join.Url, join.Token, join.Identity, "s1", join.CandidateIdentity!], fields);
        Assert.Equal(1000, BinaryPrimitives.ReadUInt16LittleEndian(payload.AsSpan(o)));
        Assert.Equal(1, payload[o + 2]);
        Assert.DoesNotContain("secret", join.ToString());
    }

    [Fact]
    public void Up_frames_round_trip_state_and_audio_in()
    {
        var buffer = new byte[2048];
        var r = new Recorder();
        using var reader = new BridgeFrameReader(r);
        var n = BridgeProtocol.WriteState(buffer, 5, AgentRoomState.Reconnecting, "signal lost");
        reader.Push(buffer.AsSpan(0, n));
        var pcm = Tone(9);
        n = BridgeProtocol.WriteAudioIn(buffer, 5, 77, 1_700_000_000_123_456, pcm);
        reader.Push(buffer.AsSpan(0, n));
        Assert.Equal(2, r.Frames.Count);
        Assert.True(BridgeProtocol.TryReadState(r.Frames[0].Payload, out var state, out var reason));
        Assert.Equal((AgentRoomState.Reconnecting, "signal lost"), (state, reason));
        Assert.True(BridgeProtocol.TryReadAudioIn(r.Frames[1].Payload, out var seq, out var micros, out var back));
        Assert.Equal((77u, 1_700_000_000_123_456L), (seq, micros));
        Assert.Equal(pcm, back.ToArray());
    }

    [Fact]
    public void Frames_split_at_every_byte_arrive_whole_and_once()
    {
        var stream = new List<byte>();
        for (uint i = 0; i < 5; i++) stream.AddRange(AudioOut(i, i, Tone((byte)i)));
        var r = new Recorder();
        using var reader = new BridgeFrameReader(r);
        foreach (var b in stream) reader.Push([b]);
        Assert.Equal(5, r.Frames.Count);
        for (var i = 0; i < 5; i++) Assert.Equal(Tone((byte)i), r.Frames[i].Payload[4..]);
        Assert.Empty(r.Garbage);
    }

    [Fact]
    public void Truncated_frame_is_held_until_complete_and_never_delivered_short()
    {
        var frame = AudioOut(1, 1, Tone(1));
        var r = new Recorder();
        using var reader = new BridgeFrameReader(r);
        reader.Push(frame.AsSpan(0, 500));
        Assert.Empty(r.Frames);
        reader.Push(frame.AsSpan(500));
        Assert.Single(r.Frames);
    }

    [Fact]
    public void Garbage_before_and_between_frames_is_skipped_counted_and_the_frames_survive()
    {
        byte[] noise = [0xff, 0xff, 0xff, 0xff, 1, 2, 3, 0x08, 0, 0, 0, 0x42, 7, 0, 0, 0, 1, 2, 3];
        var bytes = new List<byte>(noise);
        bytes.AddRange(AudioOut(1, 1, Tone(1)));
        bytes.AddRange(noise);
        bytes.AddRange(AudioOut(2, 2, Tone(2)));
        var r = new Recorder();
        using var reader = new BridgeFrameReader(r);
        reader.Push(bytes.ToArray());
        Assert.Equal([1u, 2u], r.Frames.Select(f => f.Session));
        Assert.Equal(2, r.Garbage.Count);
        Assert.All(r.Garbage, g => Assert.Equal(noise.Length, g.Skipped));
        Assert.Equal(2 * noise.Length, reader.GarbageBytes);
    }

    [Fact]
    public void Known_type_with_a_length_that_does_not_fit_it_is_garbage()
    {
        var bad = new byte[BridgeProtocol.HeaderBytes + 10];
        BridgeProtocol.WriteHeader(bad, BridgeFrameType.AudioIn, 3, 10); // AUDIO_IN is exactly one frame long
        var bytes = bad.Concat(AudioOut(4, 0, Tone(0))).ToArray();
        var r = new Recorder();
        using var reader = new BridgeFrameReader(r);
        reader.Push(bytes);
        Assert.Equal(4u, Assert.Single(r.Frames).Session);
        Assert.Equal(bad.Length, Assert.Single(r.Garbage).Skipped);
    }

    [Fact]
    public void Truncated_payload_fields_read_as_false_not_as_exceptions()
    {
        Assert.False(BridgeProtocol.TryReadState([1, 9], out _, out _));
        Assert.False(BridgeProtocol.TryReadState([1, 9, 0, (byte)'a'], out _, out _));
        Assert.False(BridgeProtocol.TryReadTrack([1, 200, 0, 1, 2], out _, out _, out _));
        Assert.False(BridgeProtocol.TryReadAudioIn(new byte[100], out _, out _, out _));
        Assert.False(BridgeProtocol.TryReadError([1, 0, 5], out _, out _));
        Assert.Equal(0ul, BridgeProtocol.StatAt(new byte[8], 3));
    }

    [Fact]
    public void Audio_path_encodes_and_parses_without_allocating()
    {
        var pcm = Tone(5);
        var wire = new byte[BridgeProtocol.AudioOutBytes * 64];
        var counter = new Counter();
        using var reader = new BridgeFrameReader(counter);
        for (var w = 0; w < 2; w++) // first pass warms up the JIT
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < 64; i++) BridgeProtocol.WriteAudioOut(wire.AsSpan(i * BridgeProtocol.AudioOutBytes), 1, (uint)i, pcm);
            for (var i = 0; i < 64; i++) reader.Push(wire.AsSpan(i * BridgeProtocol.AudioOutBytes, BridgeProtocol.AudioOutBytes));
            if (w == 1) Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        Assert.Equal(128, counter.Frames);
    }
}
