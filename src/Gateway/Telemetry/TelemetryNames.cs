namespace VoiceActors.Gateway.Telemetry;

/// <summary>Meter and activity-source names the exporters subscribe to.</summary>
public static class TelemetryNames
{
    /// <summary>The contract meter (instruments in <see cref="VoiceActors.Telemetry.VoiceMetrics"/> and the media path).</summary>
    public const string VoiceMeter = VoiceActors.Telemetry.VoiceMetrics.MeterName;

    /// <summary>Spans of our own code (LiveKit and provider calls start theirs here).</summary>
    public const string VoiceActivitySource = "VoiceActors";

    /// <summary>Orleans' runtime meter (grain counts, messaging, reminders, ...).</summary>
    public const string OrleansMeter = "Microsoft.Orleans";
}
