using Microsoft.Extensions.Options;

namespace VoiceActors.Media;

/// <summary>Limits of one session's audio relay (<c>Media</c>).</summary>
public sealed class MediaRelayOptions
{
    public const string Section = "Media";

    /// <summary>Candidate audio accepted per second, relative to real time (1.0 = exactly real time); the rest is dropped and counted.</summary>
    public double MaxRealTimeRatio { get; set; } = 1.0;

    /// <summary>Audio that may arrive early in one burst (network jitter), in milliseconds of audio.</summary>
    public int BurstMilliseconds { get; set; } = 1000;

    /// <summary>Mean absolute PCM16 level that counts as candidate speech (for the turn latency).</summary>
    public int SpeechLevel { get; set; } = 500;

    /// <summary>Quiet time that ends the candidate's utterance (for the turn latency and stall detection).</summary>
    public TimeSpan EndOfSpeechSilence { get; set; } = TimeSpan.FromMilliseconds(400);

    /// <summary>
    /// How long after the end of the agent audio handed out the candidate may still be hearing it (network, the client's
    /// playout buffer): speech onset within this is still a barge-in.
    /// </summary>
    public TimeSpan BargeInPlayoutAllowance { get; set; } = TimeSpan.FromMilliseconds(150);

    /// <summary>
    /// Candidate audio held for the provider's first connection (a move or a resume), then sent in order; 0 drops it as before.
    /// One second: the rate limiter's burst and the provider's inbound queue (50 frames) take no more at once.
    /// </summary>
    public TimeSpan HoldUntilConnected { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>At most one latency-spike timeline entry per session this often.</summary>
    public TimeSpan SpikeReportInterval { get; set; } = TimeSpan.FromSeconds(30);
}

public sealed class MediaRelayOptionsValidator : OptionsValidator<MediaRelayOptions>
{
    protected override void Check(string? name, MediaRelayOptions o, List<string> errors)
    {
        if (o.MaxRealTimeRatio is < 1 or > 10) errors.Add("Media:MaxRealTimeRatio must be 1..10: below 1 drops honest real-time audio, above 10 is no limit.");
        if (o.BurstMilliseconds is < 20 or > 10_000) errors.Add("Media:BurstMilliseconds must be 20..10000 (one frame to ten seconds).");
        if (o.SpeechLevel is < 1 or > 32767) errors.Add("Media:SpeechLevel must be a PCM16 level, 1..32767.");
        if (o.EndOfSpeechSilence < TimeSpan.FromMilliseconds(20)) errors.Add("Media:EndOfSpeechSilence must be at least one frame.");
        if (o.BargeInPlayoutAllowance < TimeSpan.Zero || o.BargeInPlayoutAllowance > TimeSpan.FromSeconds(2))
            errors.Add("Media:BargeInPlayoutAllowance must be 0..2 s.");
        if (o.HoldUntilConnected < TimeSpan.Zero || o.HoldUntilConnected > TimeSpan.FromSeconds(5)) errors.Add("Media:HoldUntilConnected must be 0..5 s.");
        if (o.SpikeReportInterval <= TimeSpan.Zero) errors.Add("Media:SpikeReportInterval must be positive.");
    }
}
