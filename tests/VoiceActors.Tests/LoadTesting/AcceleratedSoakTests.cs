using VoiceActors.LoadTest.Load;
using VoiceActors.LoadTest.Reporting;

namespace VoiceActors.Tests.LoadTesting;

/// <summary>
/// Issue #13's soak, accelerated: one real silo process on a real redis-server, turns every 1.5 s per session, provider sessions
/// rotating every few seconds, a Redis restart and a kill of the only silo (the tester starts a replacement). What it proves is
/// measured at the servers: Redis' own input counter per committed turn, the session logs' lengths, the sessions' timelines.
/// </summary>
[Collection(nameof(LoadRunCollection))]
public sealed class AcceleratedSoakTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Many_turns_through_rotations_a_redis_restart_and_a_silo_kill_cost_the_same_per_turn_and_lose_none()
    {
        var options = new LoadOptions
        {
            Sessions = 30,
            Duration = TimeSpan.FromSeconds(60),
            // Speech, then silence long enough for the answer (400 ms end of speech + 300 ms latency + 300 ms answer) on a loaded machine.
            Speech = TimeSpan.FromMilliseconds(600),
            Silence = TimeSpan.FromMilliseconds(2400),
            SiloProcesses = 1,
            // The bytes-per-turn windows (15 s each: 5–20 s and 45–60 s) stay clear of the chaos and the replacement silo's start.
            RestartRedisAt = TimeSpan.FromSeconds(21),
            KillSiloAt = TimeSpan.FromSeconds(24),
            RetryBudget = TimeSpan.FromSeconds(60), // a replacement silo process starts in 10–20 s on a busy machine
            Warmup = TimeSpan.FromSeconds(5),
            CostSampleEvery = TimeSpan.FromSeconds(2),
            CeilingDuration = TimeSpan.Zero,
            SiloSettings = new Dictionary<string, string?>
            {
                ["Providers:Simulated:Session:Budget"] = "00:00:10", // rotations from 5 s into each provider session
                ["Providers:Simulated:ResponseDuration"] = "00:00:00.300",
            },
        };
        Assert.Empty(options.Validate());

        var report = await new LoadRunner(options, TimeProvider.System).RunAsync("test", CancellationToken.None);

        var l = report.LongRun;
        Assert.NotNull(l);
        var summary = MarkdownSummary.Render(report);
        output.WriteLine(summary);
        Assert.Equal(["restart-redis", "kill-silo"], report.Chaos.Select(c => c.Kind));
        Assert.True(report.Chaos[1].SessionsInterrupted > 0, $"no session noticed the kill: was the silo really killed?\n{summary}");
        Assert.Equal(0, report.Sessions.Lost);
        Assert.Equal(30, report.Sessions.Completed);

        // Many turns, and every transcript the tester received is in the silo's log.
        Assert.True(l!.TurnsSeenByTester > 300, $"only {l.TurnsSeenByTester} turns reached the tester\n{summary}");
        Assert.Equal(0, l.CommittedTurnsLost);
        Assert.True(l.TurnsCommitted >= l.TurnsSeenByTester);

        // A turn late in the run costs Redis what one early did: appends, not rewrites of a growing state (that would be 3x and more here).
        Assert.NotNull(l.BytesPerTurnRatio);
        Assert.InRange(l.BytesPerTurnRatio!.Value, 0.67, 1.5);
        Assert.InRange(l.LargestStateKeyBytes, 1, 4096); // the session's own state stays small; its log is what grows

        // Every session rotated its provider session, and no turn at a rotation (clear of the chaos) went unanswered.
        Assert.True(l.RotationsPlanned >= options.Sessions, $"{l.RotationsPlanned} planned rotations\n{summary}");
        Assert.Equal(0, l.UnansweredAtRotations);
        Assert.Contains("## Long-interview cost (issue #13)", summary);
        Assert.Contains(report.Timeline, w => w.RedisInputBytesPerS > 0 && w.SiloRssMb > 0);
        Assert.Contains(report.Timeline, w => w.TurnsCommitted > 0 && w.RedisBytesPerTurn > 0 && w.LargestLogKeyBytes > 0);
    }
}
