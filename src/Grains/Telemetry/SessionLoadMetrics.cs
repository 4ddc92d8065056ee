using System.Diagnostics.Metrics;
using VoiceActors.Sessions;

namespace VoiceActors.Telemetry;

/// <summary>
/// The autoscaling gauges of one silo, observed from <see cref="SiloSessionLoad"/> at scrape time (the session grains keep
/// that count; there is no second one). The meter comes from the host's <see cref="IMeterFactory"/>, so the gauges
/// disappear with the silo's service provider instead of outliving it in a static.
/// </summary>
public sealed class SessionLoadMetrics
{
    public SessionLoadMetrics(SiloSessionLoad load, IMeterFactory meters)
    {
        var meter = meters.Create(VoiceMetrics.MeterName);
        KeyValuePair<string, object?>[] tags = [new("region", load.Region)];
        meter.CreateObservableGauge(VoiceMetrics.ActiveSessions, () => new Measurement<int>(load.ActiveSessions, tags),
            unit: null, description: "Live interview sessions activated on this silo.");
        meter.CreateObservableGauge(VoiceMetrics.SessionCapacity, () => new Measurement<int>(load.Capacity, tags),
            unit: null, description: "Live sessions this silo admits (Silo:MaxConcurrentSessions).");
        meter.CreateObservableGauge(VoiceMetrics.SessionUtilization, () => new Measurement<double>(load.Utilization, tags),
            unit: null, description: "Active sessions as a percentage (0-100) of capacity: the autoscaling target.");
        meter.CreateObservableGauge(VoiceMetrics.RoomsWithoutAgent, () => new Measurement<int>(load.RoomsWithoutAgent, tags),
            unit: null, description: "Live sessions on this silo whose LiveKit room has no agent participant.");
    }
}
