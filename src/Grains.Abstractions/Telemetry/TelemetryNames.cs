namespace VoiceActors.Telemetry;

/// <summary>Meter and activity-source names: the instruments' owners and the exporters agree on them here.</summary>
public static class TelemetryNames
{
    /// <summary>The contract meter (instruments in the grains' <c>VoiceMetrics</c>, the media path and the gateway).</summary>
    public const string VoiceMeter = "VoiceActors";

    /// <summary>Spans of our own code (LiveKit and provider calls start theirs here).</summary>
    public const string VoiceActivitySource = "VoiceActors";

    /// <summary>Orleans' runtime meter (grain counts, messaging, reminders, ...).</summary>
    public const string OrleansMeter = "Microsoft.Orleans";
}
