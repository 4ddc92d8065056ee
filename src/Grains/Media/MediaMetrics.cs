using System.Diagnostics.Metrics;
using VoiceActors.Telemetry;

namespace VoiceActors.Media;

/// <summary>Hot-path measurements on the contract's instruments, plus the drop counter of the bounded audio buffers.</summary>
public static class MediaMetrics
{
    public const string Inbound = "inbound";
    public const string Outbound = "outbound";
    public const string Turn = "turn";

    /// <summary>Every <c>reason</c> a frame is dropped for in the grains (exported at 0 from start-up, see <see cref="KnownSeries"/>).</summary>
    public static readonly string[] DropReasons = ["rate_limited", "provider_backlog", "provider_unavailable", "invalid", "no_client"];

    /// <summary>Frames thrown away by a bounded buffer or a rate limit (label reason), so a drop is never silent.</summary>
    public static readonly Counter<long> FramesDropped = VoiceMetrics.Meter.CreateCounter<long>(
        "voice_audio_frames_dropped",
        description: "Audio frames dropped by a bounded buffer or rate limit (label reason: rate_limited, provider_backlog, provider_unavailable, client_backlog, invalid).");

    /// <summary>Exposed as <c>voice_barge_ins_total</c>: the candidate talked over the agent (exported at 0 from start-up).</summary>
    public static readonly Counter<long> BargeIns = VoiceMetrics.Meter.CreateCounter<long>(
        "voice_barge_ins",
        description: "Barge-ins: the candidate started speaking while agent audio was playing; queued agent audio was dropped and the answer truncated.");

    /// <summary>Records the latency since <paramref name="sinceUtcTicks"/> on the given path and returns it.</summary>
    public static double RecordLatency(string path, long sinceUtcTicks, long nowUtcTicks)
    {
        var ms = (nowUtcTicks - sinceUtcTicks) / (double)TimeSpan.TicksPerMillisecond;
        if (ms < 0) ms = 0; // clocks of two processes may disagree by a hair
        VoiceMetrics.AudioLatencyMs.Record(ms, new KeyValuePair<string, object?>("path", path));
        return ms;
    }

    public static void Dropped(string reason, long count = 1) =>
        FramesDropped.Add(count, new KeyValuePair<string, object?>("reason", reason));

    public static void ProviderError(string provider) =>
        VoiceMetrics.ProviderErrors.Add(1, new KeyValuePair<string, object?>("provider", provider));
}
