using VoiceActors.LoadTest.Load;
using VoiceActors.LoadTest.Reporting;

namespace VoiceActors.Tests.LoadTesting;

/// <summary>Short real load runs (the long ones are benchmarks, see BENCHMARKS.md): real clusters, real time, real Redis.</summary>
[Collection(nameof(LoadRunCollection))]
public sealed class LoadRunTests
{
    [Fact]
    public async Task Fifty_sessions_for_ten_seconds_lose_nothing_and_report_sane_figures()
    {
        var options = new LoadOptions
        {
            Sessions = 50,
            Duration = TimeSpan.FromSeconds(10),
            CeilingDuration = TimeSpan.FromSeconds(1),
            CeilingConcurrency = 32,
            MaxLost = 0,
        };
        Assert.Empty(options.Validate());

        var report = await new LoadRunner(options, TimeProvider.System).RunAsync("test", CancellationToken.None);

        Assert.Equal(50, report.Sessions.Started);
        Assert.Equal(50, report.Sessions.Completed);
        Assert.Equal(0, report.Sessions.Lost);
        Assert.Equal(50, report.Sessions.PeakConcurrent);
        Assert.True(report.Thresholds.Passed, string.Join("; ", report.Thresholds.Failures));

        // 50 sessions x 10 s of 20 ms frames is 25,000 frames; streaming starts after create and join, and a starved pump skips late frames.
        Assert.InRange(report.Frames.Sent + report.Frames.LateAtClient, 17_500, 25_500);
        // Every frame sent is accounted for, and none failed.
        Assert.Equal(report.Frames.Sent, report.Frames.Acked + report.Frames.FailedPushes + report.Frames.DroppedByClient + report.Frames.AfterEnd);
        Assert.Equal(0, report.Frames.FailedPushes);
        Assert.True(report.Frames.Received > 0, "the simulated provider answered no one");
        Assert.True(report.Turns.Answered > 0);
        Assert.Equal(report.LatencyInboundMs.Count + report.LatencyOutboundMs.Count, report.LatencyMs.Count);

        var l = report.LatencyMs;
        Assert.True(0 < l.P50 && l.P50 <= l.P95 && l.P95 <= l.P99 && l.P99 <= l.Max, $"latency percentiles out of order: {l}");
        Assert.Equal(50, report.CreateMs.Count);
        Assert.True(report.CreateMs.P50 > 0 && report.CreateMs.P50 <= report.CreateMs.P99);
        Assert.True(report.Ceiling.CallsPerS > 0);
        Assert.True(report.Ceiling.Ratio > 0 && report.Ceiling.Ratio < 10, $"ratio {report.Ceiling.Ratio}");
        Assert.NotNull(report.Silos);
        Assert.True(report.Silos!.CpuCoresAtPlateau > 0);
        Assert.True(report.Timeline.Count >= 9);
    }

    [Fact]
    public async Task The_admission_ceiling_measures_decisions_and_whole_creates_and_leaves_the_run_its_capacity()
    {
        var options = new LoadOptions
        {
            Sessions = 5,
            Duration = TimeSpan.FromSeconds(2),
            CeilingDuration = TimeSpan.Zero,
            AdmissionCeilingDuration = TimeSpan.FromSeconds(1),
            AdmissionCeilingConcurrency = 16,
            MaxLost = 0,
            SiloSettings = new Dictionary<string, string?> { ["Silo:MaxConcurrentSessions"] = "1000000" },
        };

        var report = await new LoadRunner(options, TimeProvider.System).RunAsync("test", CancellationToken.None);

        var a = report.AdmissionCeiling;
        Assert.NotNull(a);
        Assert.True(a!.AdmissionsPerS > 0 && a.CreatesPerS > 0, $"admissions {a.AdmissionsPerS}/s, creates {a.CreatesPerS}/s");
        Assert.Equal(0, a.Failures);
        Assert.Equal(0, a.Refused);
        Assert.True(a.CreateMs.Count > 0 && a.CreateMs.P50 <= a.CreateMs.P99);
        // A whole create is an admission plus activation, reminder, state writes and a room: it must cost more CPU than the decision alone.
        Assert.True(a.CreateCpuUs > a.AdmissionCpuUs && a.AdmissionCpuUs > 0, $"create {a.CreateCpuUs} µs vs admission {a.AdmissionCpuUs} µs");
        // The run after the ceiling carries its own sessions as usual.
        Assert.Equal(5, report.Sessions.Started);
        Assert.Equal(5, report.Sessions.Completed);
        Assert.Equal(0, report.Sessions.Lost);
        Assert.Contains("admission ceiling: whole creates per second", MarkdownSummary.Render(report));
    }

    [Fact]
    public async Task Killing_a_silo_of_a_three_silo_redis_cluster_mid_run_loses_no_session()
    {
        var options = new LoadOptions
        {
            Sessions = 30,
            Duration = TimeSpan.FromSeconds(16),
            SiloProcesses = 3,
            KillSiloAt = TimeSpan.FromSeconds(6),
            CeilingDuration = TimeSpan.Zero,
            MaxLost = 0,
        };
        Assert.Empty(options.Validate());

        var report = await new LoadRunner(options, TimeProvider.System).RunAsync("test", CancellationToken.None);

        Assert.Equal(30, report.Sessions.Started);
        Assert.Equal(0, report.Sessions.Lost);
        Assert.Equal(30, report.Sessions.Completed);
        var kill = Assert.Single(report.Chaos);
        Assert.Equal("kill-silo", kill.Kind);
        // Sessions on (or routed through) the killed silo saw failures, then resumed on a survivor within the retry budget.
        Assert.True(kill.SessionsInterrupted > 0, "no session noticed the kill: was a silo really killed?");
        Assert.InRange(kill.RecoveryS, 0, options.RetryBudget.TotalSeconds);
        Assert.Equal(0, kill.SessionsLostAfter);
        Assert.True(report.Frames.Received > 0);
    }

    [Fact]
    public void The_json_report_carries_the_contract_field_names()
    {
        var report = SampleReport();

        using var json = JsonDocument.Parse(report.ToJson());
        var root = json.RootElement;
        foreach (var path in new[]
                 {
                     "sessions.started", "sessions.completed", "sessions.lost", "frames.sent", "frames.received",
                     "latency_ms.p50", "latency_ms.p95", "latency_ms.p99", "latency_ms.max", "create_ms.p50", "create_ms.p95", "create_ms.p99",
                     "errors", "ceiling.calls_per_s", "ceiling.ratio",
                 })
        {
            var node = root;
            foreach (var part in path.Split('.')) Assert.True(node.TryGetProperty(part, out node), $"report lacks {path}");
            Assert.Equal(JsonValueKind.Number, node.ValueKind);
        }
    }

    [Fact]
    public void Missed_thresholds_fail_the_run()
    {
        var report = SampleReport() with { Thresholds = new ThresholdFigures(20, 0, false, ["audio p99 31 ms is over --max-p99-ms 20"]) };

        Assert.Contains("FAILED", MarkdownSummary.Render(report));
        Assert.False(report.Thresholds.Passed);
    }

    private static LoadReport SampleReport()
    {
        var h = new LoadTest.Metrics.LatencyHistogram();
        h.RecordMilliseconds(1.5);
        var s = h.Summarize();
        return new LoadReport("2026-11-25T09:00:00Z", "test", "test", new ReportConfig(1, 1, 0, 20, 2000, 4000, 24000, null, 0, 0, null, null, null, 20, false, 7, 2, 10),
            new SessionFigures(1, 1, 0, 1, 1, 20), new FrameFigures(1, 1, 1, 0, 0, 0, 0, 0, 1), s, s, s, s, s, s, 1,
            new TurnFigures(1, 1, 0, 0, 0), s, 0, new Dictionary<string, long>(), new Dictionary<string, long>(),
            new CeilingFigures(1000, 0.1, 100, 1, 1, 0), null, null, [], [], new ThresholdFigures(null, null, true, []), []);
    }
}

[CollectionDefinition(nameof(LoadRunCollection))]
public sealed class LoadRunCollection;
