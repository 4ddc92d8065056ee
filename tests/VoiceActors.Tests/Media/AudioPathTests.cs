using System.Globalization;
using System.Text.RegularExpressions;
using VoiceActors.Tests.Sessions;
using VoiceActors.LiveKit;
using System.Collections.Concurrent;
using VoiceActors.Media;

namespace VoiceActors.Tests.Media;

/// <summary>
/// The grain's audio path as a load tester drives it: 20 ms frames pushed at (fake) real time, provider audio on an attached
/// sink. The silo's clock is a FakeTimeProvider advanced one frame per push, so the simulated provider's timing is exact.
/// </summary>
public sealed class AudioPathTests
{
    private static readonly TimeSpan Frame = TimeSpan.FromMilliseconds(20);

    internal static Dictionary<string, string?> Settings(params (string Key, string? Value)[] extra)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Providers:Simulated:ResponseLatency"] = "00:00:00.100",
            ["Providers:Simulated:ResponseJitter"] = "00:00:00",
            ["Providers:Simulated:ResponseDuration"] = "00:00:00.200",
            ["Providers:Failover:InitialBackoff"] = "00:00:00.050",
            ["Providers:Failover:MaxBackoff"] = "00:00:00.200",
            ["Providers:Failover:FailuresBeforeFailover"] = "2",
        };
        foreach (var (k, v) in extra) settings[k] = v;
        return settings;
    }

    internal static byte[] Speech() => Pcm(4000);
    internal static byte[] Silence() => new byte[AudioFormat.FrameBytes];

    private static byte[] Pcm(short amplitude) => Tone.Pcm16(AudioFormat.SamplesPerFrame, amplitude, 220, AudioFormat.SampleRate);

    internal static async Task<(IInterviewSessionGrain Grain, string Id)> CreateAsync(TestSilo silo, string provider = "simulated", string? secondary = null)
    {
        var id = SessionIds.New();
        var grain = silo.Grains.GetGrain<IInterviewSessionGrain>(id);
        await grain.Create(new CreateSession("tenant", "cand-1", "job-1", new ProviderSettings(provider, Secondary: secondary), ConsentFlags.None, "local"));
        return (grain, id);
    }

    /// <summary>Pushes one frame per 20 ms of fake time; <paramref name="until"/> stops early.</summary>
    internal static async Task PushAsync(TestSilo silo, IInterviewSessionGrain grain, byte[] pcm, int frames, Func<bool>? until = null)
    {
        for (var i = 0; i < frames && !(until?.Invoke() ?? false); i++)
        {
            silo.Clock.Advance(Frame);
            await grain.Media().PushCandidateAudio(new AudioFrame(i, silo.Clock.GetUtcNow().UtcTicks, pcm));
            if (i % 10 == 0) await Task.Delay(1); // let the provider's pumps (real threads) keep up with fake time
        }
    }

    /// <summary>Advances fake time until the grain reports a connected provider (the connect runs on the thread pool).</summary>
    internal static async Task WaitConnectedAsync(TestSilo silo, IInterviewSessionGrain grain)
    {
        for (var i = 0; i < 500; i++)
        {
            if ((await grain.Get("tenant")).Media?.ProviderConnected == true) return;
            silo.Clock.Advance(TimeSpan.FromMilliseconds(50));
            await Task.Delay(5);
        }
        Assert.Fail("The provider never connected: " + string.Join(" | ", (await grain.GetTimeline("tenant")).Select(e => $"{e.Kind} {e.Detail}")));
    }

    [Fact]
    public async Task Candidate_pause_brings_provider_audio_to_the_sink_and_both_turns_are_checkpointed()
    {
        using var latency = new VoiceActors.Tests.Providers.HistogramProbe("voice_audio_latency_ms", "path");
        await using var silo = await TestSilo.StartAsync(Settings());
        var (grain, _) = await CreateAsync(silo);
        var client = new RecordingSink();
        await grain.Media().AttachMedia(silo.Cluster.Client.CreateObjectReference<IAudioSink>(client));
        await WaitConnectedAsync(silo, grain);

        await PushAsync(silo, grain, Speech(), 50);
        await PushAsync(silo, grain, Silence(), 300, until: () => client.Turns.Count(t => t.Speaker == ParticipantRole.Agent) == 1);

        Assert.Equal(10, client.Audio.Count); // 200 ms of answer, 20 ms per frame
        // Numbered per session, each exactly once (one-way calls may overtake each other; the media socket reorders).
        Assert.Equal(Enumerable.Range(1, 10).Select(i => (long)i), client.Audio.Select(f => f.Sequence).Order());
        var turns = await grain.GetTurns("tenant");
        Assert.Equal([ParticipantRole.Candidate, ParticipantRole.Agent], turns.Select(t => t.Speaker));
        var snapshot = await grain.Get("tenant");
        Assert.Equal("simulated", snapshot.ActiveProvider);
        Assert.Equal(0, snapshot.Media!.FramesDropped);
        var timeline = await grain.GetTimeline("tenant");
        Assert.Contains(timeline, e => e.Kind == TimelineKinds.ProviderConnected && e.Detail!.StartsWith("simulated", StringComparison.Ordinal));

        // Every path is measured. The turn runs from the end of the last loud frame: the provider's pause detection
        // (20 quiet frames = 400 ms, the first of them being that end) plus its response latency (100 ms) = 480 ms.
        Assert.True(latency["inbound"].Length >= 50);
        Assert.True(latency["outbound"].Length >= 10);
        // To the frame: the clock moves in 20 ms steps, and a push may land one step after the frame it belongs to.
        Assert.Contains(latency["turn"], ms => ms is >= 470 and <= 510);
    }

    [Fact]
    public async Task Candidate_speaking_over_the_answer_drops_the_sinks_audio_cuts_the_answer_and_lands_on_the_timeline()
    {
        await using var silo = await TestSilo.StartAsync(Settings(("Providers:Simulated:ResponseDuration", "00:00:02")));
        var (grain, _) = await CreateAsync(silo);
        var client = new RecordingSink();
        await grain.Media().AttachMedia(silo.Cluster.Client.CreateObjectReference<IAudioSink>(client));
        await WaitConnectedAsync(silo, grain);

        // Speech onset while the agent is silent is an ordinary turn, not a barge-in.
        await PushAsync(silo, grain, Speech(), 50);
        await PushAsync(silo, grain, Silence(), 300, until: () => client.Audio.Count >= 10); // 200 ms into a 2 s answer
        Assert.Empty(client.BargeIns);

        await PushAsync(silo, grain, Speech(), 30, until: () => !client.BargeIns.IsEmpty); // the candidate talks over it
        await VoiceActors.TestSupport.Eventually.UntilAsync(() => !client.BargeIns.IsEmpty, TimeSpan.FromSeconds(10), () => "the sink to be told");
        var cutAt = client.BargeIns.Single(); // the last frame sequence the cut covers
        Assert.InRange(cutAt, 10, 99);

        await PushAsync(silo, grain, Speech(), 50); // one more second of fake time: a running answer would send 50 more frames
        var heard = client.Audio.Count;
        Assert.InRange(heard, cutAt, cutAt + 1); // at most one frame raced the cut
        Assert.DoesNotContain(await grain.GetTurns("tenant"), t => t.Speaker == ParticipantRole.Agent); // it was never finished

        var bargeIn = await VoiceActors.TestSupport.Eventually.ValueAsync(
            async () => (await grain.GetTimeline("tenant")).Where(e => e.Kind == TimelineKinds.BargeIn).ToArray(), e => e.Length > 0,
            TimeSpan.FromSeconds(10), _ => "a barge_in on the timeline");
        Assert.StartsWith("simulated: the candidate spoke over the agent", Assert.Single(bargeIn).Detail);

        // When the candidate pauses, the next question comes as usual.
        await PushAsync(silo, grain, Silence(), 300, until: () => client.Audio.Count > heard + 5);
        Assert.True(client.Audio.Count > heard + 5, "the interview goes on after a barge-in");
        Assert.Single(client.BargeIns);
    }

    [Fact]
    public async Task A_latency_spike_lands_on_the_timeline_once_per_interval()
    {
        await using var silo = await TestSilo.StartAsync(Settings());
        var (grain, _) = await CreateAsync(silo);
        await grain.Media().AttachMedia(silo.Cluster.Client.CreateObjectReference<IAudioSink>(new RecordingSink()));
        await WaitConnectedAsync(silo, grain);

        for (var i = 0; i < 20; i++)
        {
            silo.Clock.Advance(Frame);
            var late = silo.Clock.GetUtcNow().AddMilliseconds(-80).UtcTicks; // arrived 80 ms before it reached the grain: over the 50 ms budget
            await grain.Media().PushCandidateAudio(new AudioFrame(i, late, Silence()));
        }

        await Eventually.UntilAsync(async () => (await grain.GetTimeline("tenant")).Any(e => e.Kind == TimelineKinds.LatencySpike),
            TimeSpan.FromSeconds(2), () => "no latency spike reached the timeline", TimeSpan.FromMilliseconds(20));
        var spikes = (await grain.GetTimeline("tenant")).Where(e => e.Kind == TimelineKinds.LatencySpike).ToArray();
        var spike = Assert.Single(spikes); // twenty late frames, one entry: the timeline is a record, not a log
        // Stamped 80 ms late, then measured when the provider read it: on the test's clock that is 80 ms plus one 20 ms step per
        // frame the loop pushed before the provider's pump got to it (none on a quiet machine, some under load).
        var took = double.Parse(Regex.Match(spike.Detail ?? "", @"inbound frame took (\d+\.\d) ms").Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.InRange(took, 80, 80 + 20 * 20);
    }

    [Fact]
    public async Task A_provider_that_keeps_dropping_is_replaced_by_the_secondary_which_carries_the_conversation()
    {
        await using var silo = await TestSilo.StartAsync(Settings(("Providers:Simulated:DropAfterFrames", "120")));
        var (grain, _) = await CreateAsync(silo, secondary: "simulated-backup");
        var client = new RecordingSink();
        await grain.Media().AttachMedia(silo.Cluster.Client.CreateObjectReference<IAudioSink>(client));
        await WaitConnectedAsync(silo, grain);
        await PushAsync(silo, grain, Speech(), 50);
        await PushAsync(silo, grain, Silence(), 60, until: () => client.Turns.Count == 2);
        Assert.Equal(2, client.Turns.Count); // one exchange on the primary before it starts failing

        for (var i = 0; i < 40 && (await grain.Get("tenant")).ActiveProvider != "simulated-backup"; i++)
            await PushAsync(silo, grain, Silence(), 20);

        var snapshot = await grain.Get("tenant");
        Assert.Equal("simulated-backup", snapshot.ActiveProvider);
        Assert.Equal(1, snapshot.ProviderFailovers);
        var timeline = await grain.GetTimeline("tenant");
        Assert.Equal(2, timeline.Count(e => e.Kind == TimelineKinds.ProviderFailed && e.Detail!.StartsWith("simulated:", StringComparison.Ordinal)));
        Assert.Contains(timeline, e => e.Kind == TimelineKinds.ProviderFailover && e.Detail!.Contains("simulated -> simulated-backup"));
        await WaitConnectedAsync(silo, grain);
        timeline = await grain.GetTimeline("tenant");
        Assert.Contains(timeline, e => e.Kind == TimelineKinds.ProviderConnected && e.Detail == "simulated-backup: attempt 1, replayed 2 turns");

        // The secondary answers the next utterance: the interview goes on.
        await PushAsync(silo, grain, Speech(), 50);
        await PushAsync(silo, grain, Silence(), 100, until: () => client.Turns.Count == 4);
        Assert.Equal(4, (await grain.GetTurns("tenant")).Count);
    }

    [Fact]
    public async Task A_refused_primary_fails_over_before_the_interview_starts()
    {
        await using var silo = await TestSilo.StartAsync(Settings(("Providers:Simulated:FailFirstConnects", "1000")));
        var (grain, _) = await CreateAsync(silo, secondary: "simulated-backup");
        await grain.Media().AttachMedia(silo.Cluster.Client.CreateObjectReference<IAudioSink>(new RecordingSink()));
        await WaitConnectedAsync(silo, grain);

        var snapshot = await grain.Get("tenant");
        Assert.Equal("simulated-backup", snapshot.ActiveProvider);
        var kinds = (await grain.GetTimeline("tenant")).Where(e => e.Kind.StartsWith("provider.", StringComparison.Ordinal)).Select(e => e.Kind).ToArray();
        Assert.Equal([TimelineKinds.ProviderFailed, TimelineKinds.ProviderFailed, TimelineKinds.ProviderFailover, TimelineKinds.ProviderConnected], kinds);
    }

    [Fact]
    public async Task A_reactivated_live_session_reconnects_its_provider_and_replays_the_checkpointed_turns()
    {
        await using var silo = await TestSilo.StartAsync(Settings());
        var (grain, _) = await CreateAsync(silo);
        var client = new RecordingSink();
        await grain.Media().AttachMedia(silo.Cluster.Client.CreateObjectReference<IAudioSink>(client));
        await WaitConnectedAsync(silo, grain);
        await grain.JoinAsync("candidate-cand-1", ParticipantRole.Candidate);
        await grain.JoinAsync("agent-x", ParticipantRole.Agent);
        await PushAsync(silo, grain, Speech(), 50);
        await PushAsync(silo, grain, Silence(), 300, until: () => client.Turns.Count == 2);

        // The activation goes away (as on a dead silo); the next call finds the session live and re-activates it.
        await grain.Cast<Orleans.Core.Internal.IGrainManagementExtension>().DeactivateOnIdle();
        await Eventually.UntilAsync(async () => (await grain.GetTimeline("tenant")).Any(e => e.Kind == TimelineKinds.Resumed),
            TimeSpan.FromSeconds(2), () => "the re-activation never reached the timeline", TimeSpan.FromMilliseconds(20));
        await WaitConnectedAsync(silo, grain);

        var timeline = await grain.GetTimeline("tenant");
        var resumed = timeline.ToList().FindIndex(e => e.Kind == TimelineKinds.Resumed);
        Assert.True(resumed > 0, "the session was resumed");
        Assert.Contains(timeline.Skip(resumed), e => e.Kind == TimelineKinds.ProviderConnected && e.Detail == "simulated: attempt 1, replayed 2 turns");
        Assert.Equal(2, (await grain.GetTurns("tenant")).Count);
    }

    [Fact]
    public async Task An_utterance_spoken_before_the_provider_connects_is_held_and_answered()
    {
        // A move or a resume: the new activation's provider takes a while to connect and the candidate is already speaking.
        await using var silo = await TestSilo.StartAsync(Settings(("Providers:Simulated:ConnectLatency", "00:00:00.800")));
        var (grain, _) = await CreateAsync(silo);
        var client = new RecordingSink();
        await grain.Media().AttachMedia(silo.Cluster.Client.CreateObjectReference<IAudioSink>(client));

        await PushAsync(silo, grain, Speech(), 15); // 300 ms of speech, all of it before the connect (800 ms)
        await PushAsync(silo, grain, Silence(), 300, until: () => client.Turns.Any(t => t.Speaker == ParticipantRole.Agent));

        Assert.Contains(client.Turns, t => t.Speaker == ParticipantRole.Agent); // before: the speech was dropped, nothing answered
        var snapshot = await grain.Get("tenant");
        Assert.Equal(0, snapshot.Media!.FramesDropped);
        Assert.Equal([ParticipantRole.Candidate, ParticipantRole.Agent], (await grain.GetTurns("tenant")).Select(t => t.Speaker));
    }

    [Fact]
    public async Task Frames_faster_than_real_time_are_dropped_and_counted_not_queued()
    {
        await using var silo = await TestSilo.StartAsync(Settings());
        var (grain, _) = await CreateAsync(silo);
        await grain.Media().AttachMedia(silo.Cluster.Client.CreateObjectReference<IAudioSink>(new RecordingSink()));
        await WaitConnectedAsync(silo, grain);

        var pcm = Silence();
        for (var i = 0; i < 200; i++) await grain.Media().PushCandidateAudio(new AudioFrame(i, silo.Clock.GetUtcNow().UtcTicks, pcm)); // no time passes

        var media = (await grain.Get("tenant")).Media!;
        Assert.Equal(200, media.FramesReceived);
        Assert.Equal(150, media.FramesDropped); // a one-second burst (50 frames) passes, the rest is over the limit
    }

    [Theory]
    [InlineData(0)]
    [InlineData(959)]
    [InlineData(AudioFormat.MaxFrameBytes + 2)]
    public async Task A_malformed_frame_is_rejected_with_a_validation_error(int bytes)
    {
        await using var silo = await TestSilo.StartAsync(Settings());
        var (grain, _) = await CreateAsync(silo);

        var e = await Assert.ThrowsAsync<RequestValidationException>(() => grain.Media().PushCandidateAudio(new AudioFrame(1, 0, new byte[bytes])));
        Assert.Equal("pcm", e.Field);
    }

    [Theory]
    [InlineData("no-such-provider", null, "provider")]
    [InlineData("simulated", "no-such-provider", "providerOptions.secondary")]
    public async Task A_session_cannot_be_created_with_an_unknown_provider(string provider, string? secondary, string field)
    {
        await using var silo = await TestSilo.StartAsync(Settings());
        var grain = silo.Grains.GetGrain<IInterviewSessionGrain>(SessionIds.New());

        var e = await Assert.ThrowsAsync<RequestValidationException>(() => grain.Create(
            new CreateSession("tenant", "cand-1", "job-1", new ProviderSettings(provider, Secondary: secondary), ConsentFlags.None, "local")));
        Assert.Equal(field, e.Field);
        Assert.Contains("simulated-backup", e.Problem);
    }

    [Fact]
    public async Task Audio_for_a_session_that_does_not_exist_is_refused()
    {
        await using var silo = await TestSilo.StartAsync(Settings());
        var grain = silo.Grains.GetGrain<IInterviewSessionGrain>(SessionIds.New());

        await Assert.ThrowsAsync<SessionNotFoundException>(() => grain.Media().PushCandidateAudio(new AudioFrame(1, 0, Silence())));
    }

    internal sealed class RecordingSink : IAudioSink
    {
        public ConcurrentQueue<AudioFrame> Audio { get; } = new();
        public ConcurrentQueue<Turn> Turns { get; } = new();

        public Task OnProviderAudio(AudioFrame frame) { Audio.Enqueue(frame); return Task.CompletedTask; }
        public Task OnTranscript(Turn turn) { Turns.Enqueue(turn); return Task.CompletedTask; }
        public Task OnBargeIn(long lastSequence) { BargeIns.Enqueue(lastSequence); return Task.CompletedTask; }
        public ConcurrentQueue<long> BargeIns { get; } = new();
    }
}
