using VoiceActors.Tests.Sessions;
using VoiceActors.LiveKit;
using System.Text.RegularExpressions;
using VoiceActors.Telemetry;

namespace VoiceActors.Tests.Operations;

/// <summary>Scrapes the running silo's <c>/metrics</c>: the contract's exact exposition names, and values that follow the sessions.</summary>
public sealed partial class SiloMetricsTests(OperationsSystem ops) : IClassFixture<OperationsSystem>
{
    /// <summary>Series the LiveKit SFU exports itself (livekit/livekit pkg/telemetry/prometheus/packets.go); the packet-loss alert reads them.</summary>
    private static readonly string[] LiveKitSfuSeries = ["livekit_packet_loss_total", "livekit_packet_total"];

    [Fact]
    public async Task Contract_gauges_follow_sessions_created_joined_and_completed()
    {
        var before = await Exposition.ScrapeAsync(ops.Anonymous);
        Assert.Equal(OperationsSystem.Capacity, before.Single(VoiceMetrics.SessionCapacity));
        foreach (var gauge in new[] { VoiceMetrics.ActiveSessions, VoiceMetrics.SessionCapacity, VoiceMetrics.SessionUtilization, VoiceMetrics.RoomsWithoutAgent })
            Assert.Equal("gauge", before.Types[gauge]);
        var active = before.Single(VoiceMetrics.ActiveSessions);
        var waiting = before.Single(VoiceMetrics.RoomsWithoutAgent);

        var ids = new List<string>();
        for (var i = 0; i < 4; i++) ids.Add(await ops.CreateSessionAsync(ops.TenantA));

        var created = await Exposition.ScrapeAsync(ops.Anonymous);
        Assert.Equal(active + 4, created.Single(VoiceMetrics.ActiveSessions));
        Assert.Equal(waiting + 4, created.Single(VoiceMetrics.RoomsWithoutAgent));
        Assert.Equal(100.0 * (active + 4) / OperationsSystem.Capacity, created.Single(VoiceMetrics.SessionUtilization), 6);

        // The agent arrives in one room: that room no longer waits for an agent, and it is still a live session.
        await ops.Grains.GetGrain<IInterviewSessionGrain>(ids[0]).JoinAsync("agent-1", ParticipantRole.Agent);
        var joined = await Exposition.ScrapeAsync(ops.Anonymous);
        Assert.Equal(waiting + 3, joined.Single(VoiceMetrics.RoomsWithoutAgent));
        Assert.Equal(active + 4, joined.Single(VoiceMetrics.ActiveSessions));

        Assert.True((await ops.TenantA.PostAsync($"/v1/interviews/{ids[1]}/complete", null)).IsSuccessStatusCode);
        var completed = await Exposition.ScrapeAsync(ops.Anonymous);
        Assert.Equal(active + 3, completed.Single(VoiceMetrics.ActiveSessions));
        Assert.Equal(100.0 * (active + 3) / OperationsSystem.Capacity, completed.Single(VoiceMetrics.SessionUtilization), 6);
    }

    [Fact]
    public async Task Latency_histogram_and_provider_counters_keep_their_contract_names()
    {
        await ops.CreateSessionAsync(ops.TenantA, provider: "simulated-backup"); // a provider the cluster has; no other test here starts one
        VoiceMetrics.AudioLatencyMs.Record(0.8, new KeyValuePair<string, object?>("path", "inbound"));
        VoiceMetrics.AudioLatencyMs.Record(1200, new KeyValuePair<string, object?>("path", "turn"));
        VoiceMetrics.ProviderErrors.Add(2, new KeyValuePair<string, object?>(VoiceMetrics.ProviderTag, "simulated-backup"));

        var scrape = await Exposition.ScrapeAsync(ops.Anonymous);

        Assert.Equal("histogram", scrape.Types["voice_audio_latency_ms"]);
        var inbound = scrape.Named("voice_audio_latency_ms_bucket").Where(s => s.Labels.GetValueOrDefault("path") == "inbound").ToArray();
        var bounds = inbound.Select(s => s.Labels["le"]).ToHashSet();
        foreach (var le in new[] { "0.5", "1", "5", "10", "50", "200", "2000", "+Inf" }) Assert.Contains(le, bounds); // 1-50 ms and 50-2000 ms both resolved
        Assert.True(inbound.Single(s => s.Labels["le"] == "1").Value >= 1);
        Assert.Contains(scrape.Named("voice_audio_latency_ms_count"), s => s.Labels.GetValueOrDefault("path") == "turn" && s.Value >= 1);
        Assert.Contains(scrape.Named("voice_audio_latency_ms_sum"), s => s.Labels.GetValueOrDefault("path") == "turn" && s.Value >= 1200);

        Assert.Equal("counter", scrape.Types["voice_provider_errors_total"]);
        // The meter is process-wide, so other tests' sessions may add to these series: at least ours must be there.
        Assert.True(Assert.Single(scrape.Named("voice_provider_errors_total"), s => s.Labels.GetValueOrDefault("provider") == "simulated-backup").Value >= 2);
        Assert.True(Assert.Single(scrape.Named("voice_sessions_started_total"), s => s.Labels.GetValueOrDefault("provider") == "simulated-backup").Value >= 1);

        // Nothing renamed by the exporter: no unit or _total appended to what the contract names.
        Assert.DoesNotContain(scrape.Names, n => n.StartsWith("voice_agent_active_sessions_total_", StringComparison.Ordinal)
            || n.StartsWith("voice_audio_latency_ms_milliseconds", StringComparison.Ordinal)
            || n == "voice_provider_errors_total_total");
    }

    [Fact]
    public async Task Counters_with_known_labels_are_exported_from_start_up_before_any_event()
    {
        var providers = ((VoiceActors.Providers.VoiceProviderRegistry)ops.System.Services.GetService(typeof(VoiceActors.Providers.VoiceProviderRegistry))!).Names;
        Assert.Contains("simulated", providers);

        var scrape = await Exposition.ScrapeAsync(ops.Anonymous); // this class creates no session before it: nothing has happened yet

        // The meter is process-wide, so other test classes may have counted already; the series must exist either way.
        foreach (var provider in providers)
        {
            Assert.Single(scrape.Named("voice_provider_errors_total"), s => s.Labels.GetValueOrDefault("provider") == provider);
            Assert.Single(scrape.Named("voice_sessions_started_total"), s => s.Labels.GetValueOrDefault("provider") == provider);
        }
        foreach (var reason in VoiceActors.Media.MediaMetrics.DropReasons)
            Assert.Single(scrape.Named("voice_audio_frames_dropped_total"), s => s.Labels.GetValueOrDefault("reason") == reason);
        Assert.Single(scrape.Named("voice_barge_ins_total"));
        Assert.Equal("counter", scrape.Types["voice_provider_errors_total"]);
        Assert.Equal("counter", scrape.Types["voice_barge_ins_total"]);
    }

    [Fact]
    public async Task Orleans_runtime_meters_are_scraped_alongside_the_contract()
    {
        await ops.CreateSessionAsync(ops.TenantA);
        var scrape = await Exposition.ScrapeAsync(ops.Anonymous);
        Assert.Contains(scrape.Names, n => n.StartsWith("orleans_", StringComparison.Ordinal));
        Assert.Contains("orleans_catalog_activations", scrape.Names);
        Assert.Contains("http_server_request_duration_seconds_count", scrape.Names);
    }

    [Fact]
    public async Task Every_metric_an_alert_rule_reads_is_exported_by_a_silo_or_by_LiveKit()
    {
        await ops.CreateSessionAsync(ops.TenantA);
        VoiceMetrics.AudioLatencyMs.Record(12, new KeyValuePair<string, object?>("path", "inbound"));
        VoiceMetrics.ProviderErrors.Add(1, new KeyValuePair<string, object?>(VoiceMetrics.ProviderTag, "rules-probe"));
        var exported = (await Exposition.ScrapeAsync(ops.Anonymous)).Names.ToHashSet();

        var rules = await File.ReadAllTextAsync(Repository.PathOf("deploy", "prometheus", "alerts.yml"));
        var expressions = ExprLine().Matches(rules).Select(m => m.Groups[1].Value).ToList();
        // Multi-line expressions (expr: |) continue on the indented lines after the key.
        expressions.AddRange(BlockExpr().Matches(rules).Select(m => m.Groups[1].Value));
        var referenced = expressions.SelectMany(e => MetricName().Matches(e).Select(m => m.Value)).ToHashSet();

        Assert.Contains("voice_audio_latency_ms_bucket", referenced);
        Assert.Contains("voice_provider_errors_total", referenced);
        Assert.Contains("livekit_packet_loss_total", referenced);
        foreach (var name in referenced)
            Assert.True(exported.Contains(name) || LiveKitSfuSeries.Contains(name), $"alert rules read '{name}', which nothing exports");
    }

    [GeneratedRegex(@"expr: (?!\|)(.+)")]
    private static partial Regex ExprLine();

    [GeneratedRegex(@"expr: \|\n((?: {10,}.*\n)+)")]
    private static partial Regex BlockExpr();

    [GeneratedRegex(@"\b(?:voice|livekit)_[a-z_]+\b")]
    private static partial Regex MetricName();
}
