using VoiceActors.Tests.Sessions;
using VoiceActors.LiveKit;
using Orleans.Configuration;
using VoiceActors.Media;

namespace VoiceActors.Tests.Media;

/// <summary>A silo dies mid-interview: the session resumes on the survivor from Redis and reconnects its provider.</summary>
public sealed class AudioCrashTests : IAsyncLifetime
{
    private readonly RedisServer _redis = new();

    public Task InitializeAsync() => _redis.InitializeAsync();

    public Task DisposeAsync() => _redis.DisposeAsync();

    [Fact]
    public async Task A_live_session_on_a_killed_silo_resumes_on_the_survivor_and_reconnects_its_provider_with_the_conversation()
    {
        await using var silo = await TestSilo.StartAsync(AudioPathTests.Settings(("ConnectionStrings:Redis", _redis.ConnectionString)), silos: 2,
            services: s =>
            {
                s.Configure<ClusterMembershipOptions>(o =>
                {
                    o.ProbeTimeout = TimeSpan.FromSeconds(1);
                    o.NumMissedProbesLimit = 2;
                    o.NumVotesForDeathDeclaration = 1;
                    o.TableRefreshTimeout = TimeSpan.FromSeconds(2);
                });
            });
        var (grain, _) = await AudioPathTests.CreateAsync(silo);
        var client = new AudioPathTests.RecordingSink();
        await grain.Media().AttachMedia(silo.Cluster.Client.CreateObjectReference<IAudioSink>(client));
        await AudioPathTests.WaitConnectedAsync(silo, grain);
        await grain.JoinAsync("candidate-cand-1", ParticipantRole.Candidate);
        await grain.JoinAsync("agent-x", ParticipantRole.Agent);
        await AudioPathTests.PushAsync(silo, grain, AudioPathTests.Speech(), 50);
        await AudioPathTests.PushAsync(silo, grain, AudioPathTests.Silence(), 300, until: () => client.Turns.Count == 2);
        var before = await grain.Get("tenant");
        Assert.Equal(SessionStatus.Active, before.Status);
        var heardBeforeKill = client.Audio.Count; // the answer is over: its transcript came after its last frame

        var host = silo.Cluster.Silos.Single(s => s.SiloAddress.ToParsableString() == before.Silo);
        await silo.Cluster.KillSiloAsync(host);

        SessionSnapshot? after = null;
        // Real membership: the survivor must declare the dead silo dead, so up to 45 s.
        await Eventually.UntilAsync(async () =>
        {
            // The runtime runs on the test's fake clock: move it with real time so probes and call timeouts fire, and never
            // let one call wait forever on the dead silo.
            silo.Clock.Advance(TimeSpan.FromMilliseconds(200));
            after = await grain.Get("tenant").WaitAsync(TimeSpan.FromSeconds(5));
            return after.Silo != before.Silo && after.Media?.ProviderConnected == true;
        }, TimeSpan.FromSeconds(45), () => $"the session never resumed with a provider on the survivor; last seen: {after}",
            TimeSpan.FromMilliseconds(200),
            transient: e => e is SiloUnavailableException or TimeoutException or OrleansMessageRejectionException);

        Assert.NotNull(after);
        Assert.NotEqual(before.Silo, after.Silo);
        Assert.True(after.Media?.ProviderConnected, "the provider reconnected on the survivor");
        var timeline = await grain.GetTimeline("tenant");
        var resumed = timeline.ToList().FindLastIndex(e => e.Kind == TimelineKinds.Resumed);
        Assert.True(resumed > 0);
        Assert.Contains(timeline.Skip(resumed), e => e.Kind == TimelineKinds.ProviderConnected && e.Detail == "simulated: attempt 1, replayed 2 turns");
        Assert.Equal(2, (await grain.GetTurns("tenant")).Count); // the checkpointed turns survived the crash

        // No re-attach and no new speech: the survivor sends to the sink the client attached on the dead silo, and its provider
        // answers at once, since whatever the candidate said while no silo heard it is lost (issue #14: what the candidate hears).
        await Eventually.UntilAsync(() =>
        {
            silo.Clock.Advance(TimeSpan.FromMilliseconds(100)); // the simulator's response latency and frame pacing run on it
            return Task.FromResult(client.Audio.Count > heardBeforeKill);
        }, TimeSpan.FromSeconds(30), () => $"no provider audio reached the client's sink after the resume ({heardBeforeKill} frames before the kill)",
            TimeSpan.FromMilliseconds(100));
    }
}
