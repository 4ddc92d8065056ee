namespace VoiceActors.Tests.Operations;

/// <summary>The Prometheus rules and configuration, checked by the real promtool (Debian's prometheus package).</summary>
public sealed class AlertRulesTests
{
    private static readonly string RulesDir = Repository.PathOf("deploy", "prometheus");

    private static Task<(int ExitCode, string Output)> RunAsync(params string[] args) => Promtool.RunAsync(RulesDir, args);

    [Fact]
    public async Task Alert_rules_pass_promtool_check()
    {
        var (exit, output) = await RunAsync("check", "rules", "alerts.yml");
        Assert.True(exit == 0, output);
        Assert.Contains("SUCCESS: 4 rules found", output);
    }

    [Fact]
    public async Task Each_alert_fires_on_its_bad_series_and_stays_quiet_on_good_ones()
    {
        var (exit, output) = await RunAsync("test", "rules", "alerts.test.yml");
        Assert.True(exit == 0, output);
        var tests = await File.ReadAllTextAsync(Path.Combine(RulesDir, "alerts.test.yml"));
        foreach (var alert in new[] { "VoiceAudioLatencyHigh", "VoiceAgentCapacityHigh", "VoiceProviderErrorRateHigh", "LiveKitPacketLossHigh" })
        {
            Assert.Contains($"alertname: {alert}\n        exp_alerts: []", tests); // a quiet case
            Assert.Contains($"alertname: {alert}\n        exp_alerts:\n          - exp_labels:", tests); // a firing case
        }
    }

    [Fact]
    public async Task Rule_unit_tests_fail_when_a_threshold_is_changed()
    {
        // The unit tests are only worth something if they notice a wrong rule: loosen the latency threshold and expect failure.
        var dir = Directory.CreateTempSubdirectory("va-rules-").FullName;
        try
        {
            var rules = await File.ReadAllTextAsync(Path.Combine(RulesDir, "alerts.yml"));
            Assert.Contains("[5m]))) > 200", rules);
            await File.WriteAllTextAsync(Path.Combine(dir, "alerts.yml"), rules.Replace("[5m]))) > 200", "[5m]))) > 400"));
            File.Copy(Path.Combine(RulesDir, "alerts.test.yml"), Path.Combine(dir, "alerts.test.yml"));
            var (exit, output) = await Promtool.RunAsync(dir, "test", "rules", "alerts.test.yml");
            Assert.NotEqual(0, exit);
            Assert.Contains("VoiceAudioLatencyHigh", output);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task Local_prometheus_configuration_is_valid_and_loads_the_rules()
    {
        var (exit, output) = await RunAsync("check", "config", "prometheus.yml");
        Assert.True(exit == 0, output);
        Assert.Contains("SUCCESS: 4 rules found", output);
    }
}

/// <summary>Runs Debian's promtool (installed by test.sh) and returns its exit code and combined output.</summary>
public static class Promtool
{
    public static async Task<(int ExitCode, string Output)> RunAsync(string workingDirectory, params string[] args)
    {
        var info = new System.Diagnostics.ProcessStartInfo("promtool")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in args) info.ArgumentList.Add(a);
        using var process = System.Diagnostics.Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }
}
