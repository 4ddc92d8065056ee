using System.Diagnostics.Metrics;

namespace VoiceActors.Telemetry;

/// <summary>
/// The contract's instruments, on one meter. Names are the Prometheus exposition names in the contract
/// (see ../shared/CONTRACT.md); the exporter must publish them unchanged. Instruments carry no unit on purpose:
/// a unit would make the Prometheus exporter append it to the name.
/// </summary>
public static class VoiceMetrics
{
    public const string MeterName = TelemetryNames.VoiceMeter;

    // Gauge names, read from SiloSessionLoad by SessionLoadMetrics (one set per silo).
    public const string ActiveSessions = "voice_agent_active_sessions_total";
    public const string SessionCapacity = "voice_agent_session_capacity";
    public const string SessionUtilization = "voice_agent_session_utilization";
    public const string RoomsWithoutAgent = "livekit_rooms_without_agent";

    /// <summary>Tag on provider instruments: the provider's configured name (validated to [A-Za-z0-9_-]{1,64}).</summary>
    public const string ProviderTag = "provider";

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

    /// <summary>Exposed as <c>voice_provider_errors_total{provider}</c> (the exporter appends <c>_total</c> to counters).</summary>
    public static readonly Counter<long> ProviderErrors = Meter.CreateCounter<long>(
        "voice_provider_errors",
        description: "Voice provider errors (connect failures, stream drops, error events) by provider.");

    /// <summary>
    /// Exposed as <c>voice_sessions_started_total{provider}</c>: the denominator of the provider error-rate alert
    /// (errors per session started), incremented once per created session by the session grain.
    /// </summary>
    public static readonly Counter<long> SessionsStarted = Meter.CreateCounter<long>(
        "voice_sessions_started",
        description: "Interview sessions created, by the provider they were created with.");
}
