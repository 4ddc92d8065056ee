using VoiceActors.LoadTest.LiveKit;
using VoiceActors.LoadTest.Load;

namespace VoiceActors.Tests.LoadTesting;

/// <summary>
/// The load tester's <c>--transport livekit</c> for a few sessions: the real silo process on embedded defaults (its stand-in SFU
/// and media bridge), rtc-node candidates in real rooms. It proves the mode runs and reports; how fast it is, BENCHMARKS.md says.
/// </summary>
[Collection(nameof(LoadRunCollection))]
public sealed class LiveKitLoadRunTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Three_rtc_node_candidates_are_answered_through_the_bridge_and_every_part_is_measured()
    {
        var options = new LoadOptions
        {
            Transport = LoadTransport.LiveKit,
            Sessions = 3,
            Warmup = TimeSpan.FromSeconds(2), // counted from the moment every agent's voice reached its candidate
            Duration = TimeSpan.FromSeconds(12),
            Speech = TimeSpan.FromSeconds(1),
            Silence = TimeSpan.FromSeconds(2),
            MaxLost = 0,
        };
        Assert.Empty(options.Validate());

        var report = await new LiveKitLoadRunner(options, output.WriteLine).RunAsync("test", CancellationToken.None);
        output.WriteLine(report.ToMarkdown());

        Assert.Equal(3, report.Sessions.Joined);
        Assert.Equal(3, report.Sessions.Completed);
        Assert.Equal(0, report.Sessions.Lost);
        Assert.Equal(3, report.AgentMs.Count); // every candidate heard the agent's track arrive, and the time it took is reported
        Assert.True(report.Thresholds.Passed, string.Join("; ", report.Thresholds.Failures));

        // Turns: the candidates spoke, the simulated provider answered through the bridge, and each answer was timed at the candidate.
        Assert.True(report.Turns.AnsweredSteady > 0, "no answer heard in the measured window");
        var v2v = report.VoiceToVoiceSteadyMs;
        Assert.Equal(report.Turns.AnsweredSteady, v2v.Count);
        Assert.True(0 < v2v.P50 && v2v.P50 <= v2v.P95 && v2v.P95 <= v2v.Max, $"voice-to-voice percentiles out of order: {v2v}");
        Assert.Equal(725, report.ProviderShareMs); // 400 ms pause detection + 300 ms answer delay + half the 50 ms jitter, the defaults

        // The silo's own histogram, both ways: candidate frames reached the provider and provider frames the agent's connection.
        Assert.True(report.SiloAddedLatencyMs["inbound"].Count > 0);
        Assert.True(report.SiloAddedLatencyMs["outbound"].Count > 0);
        Assert.True(report.Frames.CandidateSent > 0 && report.Frames.BridgeIn > 0 && report.Frames.BridgeOut > 0, $"{report.Frames}");

        // Each part measured apart, by its own PIDs.
        Assert.Equal(["silo", "bridge", "sfu", "candidates"], report.Components.Select(c => c.Name));
        foreach (var c in report.Components)
        {
            Assert.NotEmpty(c.Pids);
            Assert.True(c.Cores > 0 && c.RssMb > 0, $"{c.Name}: {c.Cores} cores, {c.RssMb} MiB");
        }
        Assert.Empty(report.Components[0].Pids.Intersect(report.Components[1].Pids));
        Assert.True(report.BridgeAndSiloSessionsPerCore > 0);
        Assert.Contains("bridge + silo: sessions per core", report.ToMarkdown(), StringComparison.Ordinal);
    }
}
