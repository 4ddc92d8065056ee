namespace VoiceActors.Gateway.Telemetry;

/// <summary>Meter and activity-source names the exporters subscribe to.</summary>
public static class TelemetryNames
{
    /// <summary>The contract meter; equal to <c>VoiceActors.Telemetry.VoiceMetrics.MeterName</c> (the gateway does not reference the grains).</summary>
    public const string VoiceMeter = "VoiceActors";

    /// <summary>Spans of our own code (LiveKit and provider calls start theirs here).</summary>
    public const string VoiceActivitySource = "VoiceActors";

    /// <summary>Orleans' runtime meter (grain counts, messaging, reminders, ...).</summary>
    public const string OrleansMeter = "Microsoft.Orleans";
}
