using VoiceActors.Tests.Sessions;
using VoiceActors.LiveKit;
using VoiceActors.Media;
using VoiceActors.Providers;
using static VoiceActors.Tests.Media.AudioPathTests;

namespace VoiceActors.Tests.Media;

/// <summary>
/// Provider session rotation through the whole relay on the fake clock: the simulated provider enforces a 3 s session cap
/// the way OpenAI does at 60 minutes, and the interview runs through several of them with every turn answered.
/// </summary>
public sealed class RotationPathTests
{
    /// <summary>
    /// Cap 8 s; the link looks for a pause from 4 s and rotates regardless at 7.8 s: the window spans two exchanges, as five
    /// minutes of a 60-minute session span several (a forced rotation is the exception, and it can cut a turn).
    /// </summary>
    private static Dictionary<string, string?> ShortSessions() => Settings(
        ("Providers:Simulated:Session:Budget", "00:00:08"),
        ("Providers:Simulated:Session:SafetyMargin", "00:00:05"),
        ("Providers:Simulated:Session:ForceMargin", "00:00:00.200"),
        ("Providers:Simulated:Session:BoundaryQuiet", "00:00:00.100"),
        ("Providers:Simulated:Session:VerbatimTurns", "4"));

    /// <summary>A silo, a session with its sink attached, and the provider connected.</summary>
    private static async Task<(TestSilo Silo, IInterviewSessionGrain Grain, RecordingSink Client)> ConnectedAsync(Dictionary<string, string?> settings, string? secondary = null)
    {
        var silo = await TestSilo.StartAsync(settings);
        var (grain, _) = await CreateAsync(silo, secondary: secondary);
        var client = new RecordingSink();
        await grain.Media().AttachMedia(silo.Cluster.Client.CreateObjectReference<IAudioSink>(client));
        await WaitConnectedAsync(silo, grain);
        return (silo, grain, client);
    }

    [Fact]
    public async Task Turns_keep_being_answered_across_several_rotations_with_none_unanswered_and_no_added_latency()
    {
        var (silo, grain, client) = await ConnectedAsync(ShortSessions());
        await using var owned = silo;

        const int exchanges = 14; // about 1.8 s each: 25 s of interview through sessions capped at 8 s
        var latencies = new List<double>();
        for (var i = 1; i <= exchanges; i++)
        {
            var heard = client.Audio.Count;
            await PushAsync(silo, grain, Speech(), 40);
            var endOfSpeech = silo.Clock.GetUtcNow().UtcTicks; // the last loud frame's end
            await PushAsync(silo, grain, Silence(), 300, until: () => client.Turns.Count(t => t.Speaker == ParticipantRole.Agent) == i);
            Assert.True(client.Turns.Count(t => t.Speaker == ParticipantRole.Agent) == i, $"exchange {i} was not answered");
            await PushAsync(silo, grain, Silence(), 15); // the candidate takes a breath before the next answer: a turn boundary
            var answer = client.Audio.Skip(heard).MinBy(f => f.Sequence)!;
            latencies.Add(TimeSpan.FromTicks(answer.SentAtUtcTicks - endOfSpeech).TotalMilliseconds);
        }

        var timeline = await grain.GetTimeline("tenant");
        var rotations = timeline.Where(e => e.Kind == TimelineKinds.ProviderRotated).ToArray();
        Assert.True(rotations.Length >= 3, $"only {rotations.Length} rotations in {exchanges} exchanges");
        Assert.All(rotations, r => Assert.StartsWith("simulated: planned: fresh session, replayed ", r.Detail)); // before the cap, every time
        Assert.DoesNotContain(timeline, e => e.Kind is TimelineKinds.ProviderFailed or TimelineKinds.ProviderFailover);
        Assert.Contains(rotations, r => r.Detail!.Contains(" condensed", StringComparison.Ordinal) && !r.Detail.EndsWith(" 0 condensed", StringComparison.Ordinal));

        // 0 unanswered turns, and each answered once: a candidate and an agent turn per exchange, in order, all checkpointed.
        var turns = await grain.GetTurns("tenant");
        Assert.Equal(Enumerable.Repeat(new[] { ParticipantRole.Candidate, ParticipantRole.Agent }, exchanges).SelectMany(x => x), turns.Select(t => t.Speaker));
        // Each answer of 200 ms reached the sink whole and once: sequences 1..N without a gap or a repeat.
        Assert.Equal(exchanges * 10, client.Audio.Count);
        Assert.Equal(Enumerable.Range(1, exchanges * 10).Select(i => (long)i), client.Audio.Select(f => f.Sequence).Order());
        // No audible gap: an answer after a rotation comes as fast as any other (pause detection + latency, to the frame).
        // The first answer is not after a rotation (it can also carry the first connection's warm-up under load): the rest are.
        var afterRotations = latencies.Skip(1).ToArray();
        Assert.True(afterRotations.Max() - afterRotations.Min() <= 20, $"turn latencies (ms): {string.Join(", ", latencies)}");
        Assert.Equal(0, (await grain.Get("tenant")).Media!.FramesDropped);
    }

    [Fact]
    public async Task A_session_the_provider_expires_is_reopened_with_the_replay_and_is_not_a_failure()
    {
        // No budget at the link (the provider's real cap is not the configured one): the simulator expires each session at 2 s.
        var (silo, grain, client) = await ConnectedAsync(Settings(
            ("Providers:Simulated:SessionCap", "00:00:02"),
            ("Providers:Failover:FailuresBeforeFailover", "1")), secondary: "simulated-backup");
        await using var owned = silo;

        await PushAsync(silo, grain, Speech(), 40);
        await PushAsync(silo, grain, Silence(), 300, until: () => client.Turns.Count == 2);
        await PushAsync(silo, grain, Silence(), 100); // past the cap

        var rotated = await Eventually.ValueAsync(
            async () => (await grain.GetTimeline("tenant")).Where(e => e.Kind == TimelineKinds.ProviderRotated).ToArray(), e => e.Length > 0,
            TimeSpan.FromSeconds(10), _ => "a rotation on the timeline");
        Assert.Equal("simulated: expired: fresh session, replayed 2 turns verbatim, 0 condensed", rotated[0].Detail);
        var snapshot = await grain.Get("tenant");
        Assert.Equal("simulated", snapshot.ActiveProvider); // no failover, though one failure would have been enough
        Assert.Equal(0, snapshot.ProviderFailovers);
        Assert.DoesNotContain(await grain.GetTimeline("tenant"), e => e.Kind == TimelineKinds.ProviderFailed);

        await PushAsync(silo, grain, Speech(), 40);
        await PushAsync(silo, grain, Silence(), 300, until: () => client.Turns.Count == 4);
        Assert.Equal(4, (await grain.GetTurns("tenant")).Count); // the next question came from the fresh session
    }
}
