using System.Diagnostics.Metrics;

namespace VoiceActors.Telemetry;

/// <summary>
/// The contract's instruments, on one meter. Names are the Prometheus exposition names in the contract
/// (see ../shared/CONTRACT.md); the exporter must publish them unchanged.
/// </summary>
public static class VoiceMetrics
{
    public const string MeterName = "VoiceActors";

    public static readonly Meter Meter = new(MeterName, "1.0");

    /// <summary>Server-added audio latency: per frame (gateway → provider, provider → client) and per turn.</summary>
    public static readonly Histogram<double> AudioLatencyMs = Meter.CreateHistogram<double>(
        "voice_audio_latency_ms",
        unit: null,
        description: "Server-added audio latency in milliseconds (label path: inbound, outbound, turn).",
        tags: null,
        advice: new InstrumentAdvice<double>
        {
            // Fine below 50 ms (the budget) and coarse up to 2 s (a slow provider turn).
            HistogramBucketBoundaries = [0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 40, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 1500, 2000],
        });

    public static readonly Counter<long> ProviderErrors = Meter.CreateCounter<long>(
        "voice_provider_errors",
        description: "Voice provider errors (connect failures, stream drops, error events) by provider.");
}
