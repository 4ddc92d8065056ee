using System.Threading.Channels;
using VoiceActors.Media;
using VoiceActors.Media.Bridge;

namespace VoiceActors.Tests.Media.Bridge;

/// <summary>
/// The silo's MediaBridge against real rooms: the stand-in SFU and an official rtc-node candidate publishing 440 Hz
/// (src/media/bridge/test/room-fixture.js), the agent publishing 1000 Hz through the bridge.
/// </summary>
public sealed class MediaBridgeRoomTests(ITestOutputHelper output)
{
    private sealed class RoomFixture : IAsyncDisposable
    {
        private readonly Process _process;
        public readonly Channel<JsonElement> Events = Channel.CreateUnbounded<JsonElement>();

        public RoomFixture()
        {
            var script = BridgeLocator.FindScript(null, AppContext.BaseDirectory)!;
            var media = Path.GetDirectoryName(Path.GetDirectoryName(script))!;
            var info = new ProcessStartInfo("node") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = media };
            info.ArgumentList.Add(Path.Combine(media, "bridge", "test", "room-fixture.js"));
            info.Environment["NODE_ENV"] = "production";
            _process = Process.Start(info)!;
            _ = _process.StandardError.ReadToEndAsync();
            _ = Task.Run(async () =>
            {
                while (await _process.StandardOutput.ReadLineAsync() is { } line)
                    if (line.StartsWith('{')) Events.Writer.TryWrite(JsonDocument.Parse(line).RootElement.Clone());
                Events.Writer.TryComplete();
            });
        }

        public async Task<JsonElement> NextAsync(string ev, TimeSpan? timeout = null)
        {
            using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(30));
            while (true)
            {
                var e = await Events.Reader.ReadAsync(cts.Token);
                if (e.GetProperty("ev").GetString() == ev) return e;
            }
        }

        public async ValueTask DisposeAsync()
        {
            _process.StandardInput.Close();
            try { await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10)); }
            catch (TimeoutException) { _process.Kill(entireProcessTree: true); }
            _process.Dispose();
        }
    }

    private static double TonePower(ReadOnlySpan<byte> pcm, double freq)
    {
        var k = 2 * Math.Cos(2 * Math.PI * freq / AudioFormat.SampleRate);
        double s1 = 0, s2 = 0;
        var n = pcm.Length / 2;
        for (var i = 0; i < n; i++)
        {
            var s0 = (short)(pcm[2 * i] | pcm[2 * i + 1] << 8) / 32768.0 + k * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        return (s1 * s1 + s2 * s2 - k * s1 * s2) / ((double)n * n);
    }

    [Fact]
    public async Task Agent_joins_a_room_hears_the_candidate_is_heard_and_resumes_after_the_bridge_is_killed()
    {
        await using var room = new RoomFixture();
        var ready = await room.NextAsync("ready");
        await using var h = new BridgeHarness(o => { o.FakeRooms = false; o.RestartBackoffInitial = TimeSpan.FromMilliseconds(250); });
        var bridge = await h.StartAsync();
        Assert.True(bridge.IsAvailable, bridge.UnavailableReason);
        var target = new RecordingTarget();
        var join = new AgentJoin(ready.GetProperty("url").GetString()!, ready.GetProperty("agentToken").GetString()!, "agent", "candidate");
        await using var c = bridge.Join("e2e", join, target);

        await target.WaitAsync(() => target.Last == AgentRoomState.Connected && target.Tracks.Contains(("candidate", true)));
        await target.WaitAsync(() => target.Audio.Count >= 50); // the candidate's tone, up the pipe as AUDIO_IN
        var heard = target.Audio.ToArray()[^25..].SelectMany(f => f.Pcm).ToArray();
        Assert.True(TonePower(heard, 440) > 100 * TonePower(heard, 1000), "the candidate's 440 Hz tone arrives as AUDIO_IN");

        using var stop = new CancellationTokenSource();
        var pacer = Task.Run(async () =>
        {
            using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(20));
            for (long i = 0; await timer.WaitForNextTickAsync(stop.Token).ConfigureAwait(false) || true; i++)
                c.SendAudio(Tone(i));
        });
        await room.NextAsync("agent_audio"); // the candidate hears the agent

        var pid = Assert.Single(bridge.Processes).Pid;
        var killedAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        Process.GetProcessById(pid).Kill();
        var silent = (await room.NextAsync("agent_silent")).GetProperty("at").GetInt64();
        var resumed = (await room.NextAsync("agent_audio", TimeSpan.FromSeconds(60))).GetProperty("at").GetInt64();
        await target.WaitAsync(() => target.States.Any(s => s.State == AgentRoomState.Reconnecting) && target.Last == AgentRoomState.Connected);
        output.WriteLine($"bridge killed: the candidate lost the agent {silent - killedAt} ms later and heard it again {resumed - killedAt} ms after the kill");
        Assert.Equal(1, bridge.Metrics.RestartCount);
        Assert.NotEqual(pid, Assert.Single(bridge.Processes).Pid);
        stop.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pacer);
    }

    /// <summary>A clock behind the real one: tokens it issues expire earlier than their TTL says.</summary>
    private sealed class BehindClock(TimeSpan behind) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => base.GetUtcNow() - behind;
    }

    [Fact]
    public async Task Bridge_rejoin_after_a_restart_mints_a_fresh_agent_token_instead_of_reusing_the_expired_one()
    {
        await using var room = new RoomFixture();
        var ready = await room.NextAsync("ready");
        var url = ready.GetProperty("url").GetString()!;
        var (key, secret) = (ready.GetProperty("apiKey").GetString()!, ready.GetProperty("apiSecret").GetString()!);
        // The SFU, like LiveKit, accepts a token 60 s past its exp: issued 62 s in the past with a 6 s TTL, it is refused 4 s from now.
        var expiring = new VoiceActors.LiveKit.LiveKitTokens(key, secret, new BehindClock(TimeSpan.FromSeconds(62)))
            .ForParticipant(ready.GetProperty("room").GetString()!, "agent", VoiceActors.LiveKit.ParticipantRole.Agent, TimeSpan.FromSeconds(6));
        var fresh = new VoiceActors.LiveKit.LiveKitTokens(key, secret);
        var minted = 0;
        string Mint()
        {
            Interlocked.Increment(ref minted);
            return fresh.ForParticipant(ready.GetProperty("room").GetString()!, "agent", VoiceActors.LiveKit.ParticipantRole.Agent, TimeSpan.FromMinutes(5));
        }
        await using var h = new BridgeHarness(o => { o.FakeRooms = false; o.RestartBackoffInitial = TimeSpan.FromMilliseconds(250); });
        var bridge = await h.StartAsync();
        var target = new RecordingTarget();
        await using var c = bridge.Join("refresh", new AgentJoin(url, expiring, "agent", "candidate", Mint), target);
        await target.WaitAsync(() => target.Last == AgentRoomState.Connected);
        Assert.Equal(0, minted); // the first join uses the token it was given

        using var http = new HttpClient();
        var validate = $"{url.Replace("ws://", "http://", StringComparison.Ordinal)}/rtc/validate?access_token=";
        await VoiceActors.TestSupport.Eventually.UntilAsync(async () => (await http.GetAsync(validate + expiring)).StatusCode == System.Net.HttpStatusCode.Unauthorized,
            TimeSpan.FromSeconds(15), () => "the first token to expire");
        Process.GetProcessById(Assert.Single(bridge.Processes).Pid).Kill();
        await target.WaitAsync(() => target.States.Any(s => s.State == AgentRoomState.Reconnecting) && target.Last == AgentRoomState.Connected);
        Assert.Equal(1, minted); // the re-join minted its own token, and the SFU let it in
        Assert.DoesNotContain(target.States, s => s.State == AgentRoomState.Failed);
        using var stop = new CancellationTokenSource();
        var pacer = Task.Run(async () =>
        {
            using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(20));
            for (long i = 0; await timer.WaitForNextTickAsync(stop.Token).ConfigureAwait(false) || true; i++)
                c.SendAudio(Tone(i));
        });
        await room.NextAsync("agent_audio"); // the agent is heard on the re-joined connection
        stop.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pacer);
    }

    private static AudioFrame Tone(long frame)
    {
        var pcm = new byte[AudioFormat.FrameBytes];
        for (var i = 0; i < AudioFormat.SamplesPerFrame; i++)
        {
            var s = (short)(12000 * Math.Sin(2 * Math.PI * 1000 * (frame * AudioFormat.SamplesPerFrame + i) / AudioFormat.SampleRate));
            pcm[2 * i] = (byte)s;
            pcm[2 * i + 1] = (byte)(s >> 8);
        }
        return new AudioFrame(frame, 0, pcm);
    }
}
