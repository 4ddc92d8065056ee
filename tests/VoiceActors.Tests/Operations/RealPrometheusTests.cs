using System.Globalization;
using System.Net.Http.Json;
using VoiceActors.Telemetry;

namespace VoiceActors.Tests.Operations;

/// <summary>
/// A real Prometheus (Debian's package) scrapes the running silo with the repository's configuration and rules: the
/// exposition is accepted as it is negotiated in production (OpenMetrics), the contract series arrive under their
/// names and the alert rules load.
/// </summary>
public sealed class RealPrometheusTests(OperationsSystem ops) : IClassFixture<OperationsSystem>
{
    [Fact]
    public async Task Prometheus_scrapes_the_silo_and_sees_active_sessions_under_the_contract_name()
    {
        for (var i = 0; i < 3; i++) await ops.CreateSessionAsync(ops.TenantA);
        var expected = (await Exposition.ScrapeAsync(ops.Anonymous)).Single(VoiceMetrics.ActiveSessions);

        var dir = Directory.CreateTempSubdirectory("va-prometheus-").FullName;
        var port = FreePort.Next();
        try
        {
            // The repository's prometheus.yml with the target moved to this test's silo and a fast scrape.
            var config = (await File.ReadAllTextAsync(Repository.PathOf("deploy", "prometheus", "prometheus.yml")))
                .Replace("scrape_interval: 5s", "scrape_interval: 1s")
                .Replace("127.0.0.1:5080", $"127.0.0.1:{ops.System.HttpPort}");
            Assert.Contains($"127.0.0.1:{ops.System.HttpPort}", config);
            await File.WriteAllTextAsync(Path.Combine(dir, "prometheus.yml"), config);
            File.Copy(Repository.PathOf("deploy", "prometheus", "alerts.yml"), Path.Combine(dir, "alerts.yml"));

            await using var prometheus = ChildProcess.Start("prometheus",
            [
                $"--config.file={Path.Combine(dir, "prometheus.yml")}",
                $"--storage.tsdb.path={Path.Combine(dir, "data")}",
                $"--web.listen-address=127.0.0.1:{port}",
            ], dir);
            using var api = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(5) };

            var value = await PollAsync(api, prometheus, $"{VoiceMetrics.ActiveSessions}{{job=\"voiceactors-silo\"}}");
            Assert.Equal(expected, value);
            Assert.Equal(OperationsSystem.Capacity, await PollAsync(api, prometheus, $"{VoiceMetrics.SessionCapacity}{{job=\"voiceactors-silo\"}}"));
            Assert.Equal(1, await PollAsync(api, prometheus, "up{job=\"voiceactors-silo\"}"));

            var rules = await api.GetFromJsonAsync<JsonElement>("/api/v1/rules");
            var alerts = rules.GetProperty("data").GetProperty("groups").EnumerateArray()
                .SelectMany(g => g.GetProperty("rules").EnumerateArray()).Select(r => r.GetProperty("name").GetString()).ToHashSet();
            Assert.Superset(new HashSet<string?> { "VoiceAudioLatencyHigh", "VoiceAgentCapacityHigh", "VoiceProviderErrorRateHigh", "LiveKitPacketLossHigh" }, alerts);
        }
        finally
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>Queries until the series has a sample (Prometheus is a real external process: poll with a deadline).</summary>
    private static async Task<double> PollAsync(HttpClient api, ChildProcess prometheus, string query)
    {
        // Not listening yet (HttpRequestException, TaskCanceledException) is "not yet" to Eventually; an exited Prometheus ends the wait.
        var sample = await Eventually.ValueAsync(async () =>
        {
            if (prometheus.HasExited) throw new InvalidOperationException($"prometheus exited:\n{prometheus.Output}");
            var body = await api.GetFromJsonAsync<JsonElement>($"/api/v1/query?query={Uri.EscapeDataString(query)}");
            var result = body.GetProperty("data").GetProperty("result");
            return result.GetArrayLength() == 1
                ? double.Parse(result[0].GetProperty("value")[1].GetString()!, CultureInfo.InvariantCulture)
                : (double?)null;
        }, value => value is not null, TimeSpan.FromSeconds(30), _ => $"no sample for {query}:\n{prometheus.Output}",
            interval: TimeSpan.FromMilliseconds(200));
        return sample!.Value;
    }
}
