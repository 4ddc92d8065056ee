using Microsoft.Extensions.Hosting;
using VoiceActors.Media;
using VoiceActors.Providers;

namespace VoiceActors.Telemetry;

/// <summary>
/// Exports every counter series whose label values are known at start-up at 0, as Prometheus' instrumentation guidance asks:
/// a series that appears only with its first event leaves <c>rate()</c>, alerts and dashboards blind until then. Counters
/// per configured provider (<c>voice_provider_errors_total</c>, <c>voice_sessions_started_total</c>) per drop reason, and the barge-in count.
/// The latency histogram is not touched: System.Diagnostics.Metrics has no empty observation, and a fake one would count.
/// </summary>
public sealed class KnownSeries(VoiceProviderRegistry providers) : IHostedService
{
    /// <summary>Runs after the host's metrics listener started (registered after telemetry), so the zero measurements reach the exporter.</summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        ExportAtZero(providers.Names);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public static void ExportAtZero(IEnumerable<string> providerNames)
    {
        foreach (var name in providerNames)
        {
            var provider = new KeyValuePair<string, object?>(VoiceMetrics.ProviderTag, name);
            VoiceMetrics.ProviderErrors.Add(0, provider);
            VoiceMetrics.SessionsStarted.Add(0, provider);
            ProviderRotation.ExportAtZero(name); // voice_provider_rotations_total{provider,reason}
        }
        foreach (var reason in MediaMetrics.DropReasons)
            MediaMetrics.FramesDropped.Add(0, new KeyValuePair<string, object?>("reason", reason));
        MediaMetrics.BargeIns.Add(0);
        Recording.RecordingMetrics.ExportAtZero();
    }
}
