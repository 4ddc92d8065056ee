using System.Buffers.Binary;
using System.Threading.Channels;
using VoiceActors.Media.Bridge;

namespace VoiceActors.Tests.Media.Bridge;

/// <summary>The Node bridge on its own pipe, driven byte by byte from here: garbage, unknown types, PING, stdin EOF.</summary>
public sealed class BridgePipeTests
{
    private sealed class Collector : IBridgeFrameHandler
    {
        public readonly Channel<(BridgeFrameType Type, uint Session, byte[] Payload)> Frames = Channel.CreateUnbounded<(BridgeFrameType, uint, byte[])>();
        public int Garbage;
        public void OnFrame(BridgeFrameType type, uint session, ReadOnlySpan<byte> payload) => Frames.Writer.TryWrite((type, session, payload.ToArray()));
        public void OnGarbage(int skippedBytes, string reason) => Interlocked.Increment(ref Garbage);

        public async Task<(BridgeFrameType Type, uint Session, byte[] Payload)> NextAsync(Func<(BridgeFrameType Type, uint Session, byte[] Payload), bool> match)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            while (true)
            {
                var f = await Frames.Reader.ReadAsync(timeout.Token);
                if (match(f)) return f;
            }
        }
    }

    private static Process StartBridge(out Collector collector)
    {
        var script = BridgeLocator.FindScript(null, AppContext.BaseDirectory) ?? throw new InvalidOperationException("bridge script not found");
        var info = new ProcessStartInfo("node") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(script);
        info.Environment["BRIDGE_FAKE_ROOMS"] = "1";
        info.Environment["BRIDGE_STATS_MS"] = "100";
        var p = Process.Start(info)!;
        var c = collector = new Collector();
        _ = Task.Run(async () =>
        {
            using var reader = new BridgeFrameReader(c);
            while (true)
            {
                var n = await p.StandardOutput.BaseStream.ReadAsync(reader.GetWriteMemory());
                if (n == 0) break;
                reader.Advance(n);
            }
            c.Frames.Writer.TryComplete();
        });
        _ = p.StandardError.ReadToEndAsync();
        return p;
    }

    private static async Task WriteAsync(Process p, ReadOnlyMemory<byte> bytes)
    {
        await p.StandardInput.BaseStream.WriteAsync(bytes);
        await p.StandardInput.BaseStream.FlushAsync();
    }

    private static byte[] Ping(uint session, ulong nonce)
    {
        var b = new byte[BridgeProtocol.HeaderBytes + 8];
        BridgeProtocol.WritePing(b, session, nonce);
        return b;
    }

    [Fact]
    public async Task Garbage_on_the_pipe_is_reported_counted_and_the_bridge_keeps_answering()
    {
        using var p = StartBridge(out var up);
        byte[] garbage = [0xff, 0xff, 0xff, 0xff, 0x01, 0x02, 0x03, 0x08, 0, 0, 0, 0x42, 7, 0, 0, 0, 9, 9, 9];
        var unknownType = new byte[BridgeProtocol.HeaderBytes + 3];
        BinaryPrimitives.WriteUInt32LittleEndian(unknownType, 8);
        unknownType[4] = 0x42;
        await WriteAsync(p, garbage);
        await WriteAsync(p, Ping(0, 1));
        await WriteAsync(p, unknownType);
        await WriteAsync(p, Ping(0, 2));

        var error = await up.NextAsync(f => f.Type == BridgeFrameType.Error);
        Assert.True(BridgeProtocol.TryReadError(error.Payload, out var code, out var message));
        Assert.Equal(1, code);
        Assert.Contains("garbage", message);
        var pong1 = await up.NextAsync(f => f.Type == BridgeFrameType.Pong);
        Assert.Equal(1ul, BinaryPrimitives.ReadUInt64LittleEndian(pong1.Payload));
        var pong2 = await up.NextAsync(f => f.Type == BridgeFrameType.Pong);
        Assert.Equal(2ul, BinaryPrimitives.ReadUInt64LittleEndian(pong2.Payload));
        var stats = await up.NextAsync(f => f.Type == BridgeFrameType.Stats && f.Session == 0 && BridgeProtocol.StatAt(f.Payload, 5) >= 2);
        Assert.Equal(2ul, BridgeProtocol.StatAt(stats.Payload, 5)); // two garbage runs
        Assert.False(p.HasExited);
        Assert.Equal(0, up.Garbage); // and nothing it said back was garbage

        p.StandardInput.Close(); // stdin EOF: the bridge never outlives its silo
        await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0, p.ExitCode);
    }

    private static byte[] JoinFrame(uint session)
    {
        var join = new AgentJoin("ws://fake", "eyJ.secret.token", "agent", "cand");
        var frame = new byte[BridgeProtocol.JoinBytes(join, $"s{session}")];
        BridgeProtocol.WriteJoin(frame, session, join, $"s{session}", 1000, false);
        return frame;
    }

    /// <summary>The first <paramref name="bytes"/> of a frame, its length rewritten: a frame whose strings run past its end.</summary>
    private static byte[] Cut(byte[] frame, int bytes)
    {
        var cut = frame[..bytes];
        BinaryPrimitives.WriteUInt32LittleEndian(cut, (uint)(cut.Length - 4));
        return cut;
    }

    [Fact]
    public async Task Truncated_join_is_a_bad_payload_error_and_a_full_one_still_joins()
    {
        using var p = StartBridge(out var up);
        var full = JoinFrame(3);
        await WriteAsync(p, Cut(full, 20));
        await WriteAsync(p, full);
        var error = await up.NextAsync(f => f.Type == BridgeFrameType.Error);
        Assert.True(BridgeProtocol.TryReadError(error.Payload, out var code, out var message));
        Assert.Equal(3, code);
        Assert.DoesNotContain("secret", message);
        var state = await up.NextAsync(f => f.Type == BridgeFrameType.State && f.Session == 3 && f.Payload[0] == (byte)AgentRoomState.Connected);
        Assert.Equal(3u, state.Session);
        p.StandardInput.Close();
        await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Data_frames_are_published_and_truncated_oversized_or_sessionless_ones_are_refused_and_counted()
    {
        using var p = StartBridge(out var up);
        await WriteAsync(p, JoinFrame(4));
        await up.NextAsync(f => f.Type == BridgeFrameType.State && f.Session == 4 && f.Payload[0] == (byte)AgentRoomState.Connected);

        var line = AgentRoomConnection.TranscriptJson(new VoiceActors.Sessions.Turn(VoiceActors.LiveKit.ParticipantRole.Agent, "hello", DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch));
        byte[] Data(uint session, ReadOnlySpan<byte> payload)
        {
            var b = new byte[BridgeProtocol.DataBytes(AgentRoomConnection.TranscriptTopic, payload.Length)];
            BridgeProtocol.WriteData(b, session, AgentRoomConnection.TranscriptTopic, payload, reliable: true);
            return b;
        }
        await WriteAsync(p, Data(4, line));
        await WriteAsync(p, Data(4, line));
        await WriteAsync(p, Data(99, line)); // no such session: counted as unknown, not an error
        await WriteAsync(p, Cut(Data(4, line), 14)); // a topic that runs past the frame's end
        var error = await up.NextAsync(f => f.Type == BridgeFrameType.Error);
        Assert.True(BridgeProtocol.TryReadError(error.Payload, out var code, out var message));
        Assert.Equal(3, code);
        Assert.Contains("DATA", message);

        var session = await up.NextAsync(f => f.Type == BridgeFrameType.Stats && f.Session == 4 && BridgeProtocol.StatAt(f.Payload, 8) >= 2);
        Assert.Equal(2ul, BridgeProtocol.StatAt(session.Payload, 8)); // both good lines published
        var process = await up.NextAsync(f => f.Type == BridgeFrameType.Stats && f.Session == 0 && BridgeProtocol.StatAt(f.Payload, 7) >= 1);
        Assert.Equal(1ul, BridgeProtocol.StatAt(process.Payload, 7)); // the sessionless one
        Assert.Throws<ArgumentException>(() => Data(4, new byte[BridgeProtocol.MaxDataBytes + 1])); // the silo never writes one
        Assert.False(p.HasExited);
        p.StandardInput.Close();
        await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
    }
}
