using Microsoft.Extensions.Options;

namespace VoiceActors.Sessions;

/// <summary>Limits of one interview session (configuration section <c>Sessions</c>).</summary>
public sealed class InterviewSessionOptions
{
    public const string Section = "Sessions";

    /// <summary>A session older than this ends itself as <see cref="SessionStatus.Expired"/>.</summary>
    public TimeSpan MaxDuration { get; set; } = TimeSpan.FromMinutes(90);

    /// <summary>How long a room may stay empty after everyone left before the session expires.</summary>
    public TimeSpan EmptyTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a provisioned session waits for its first participant.</summary>
    public TimeSpan JoinTimeout { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Period of the watchdog reminder; it bounds how long a crashed session waits to be re-activated.</summary>
    public TimeSpan WatchdogPeriod { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Stored state outlives the longest session by this much, then Redis drops it.</summary>
    public TimeSpan StorageExpiryBuffer { get; set; } = TimeSpan.FromMinutes(15);

    public TimeSpan StorageExpiry => MaxDuration + StorageExpiryBuffer;
}

public sealed class InterviewSessionOptionsValidator : OptionsValidator<InterviewSessionOptions>
{
    protected override void Check(string? name, InterviewSessionOptions o, List<string> errors)
    {
        if (o.MaxDuration <= TimeSpan.Zero) errors.Add("Sessions:MaxDuration must be positive: a session needs time to happen.");
        if (o.EmptyTimeout <= TimeSpan.Zero) errors.Add("Sessions:EmptyTimeout must be positive, or an empty room would end the session at once.");
        if (o.JoinTimeout <= TimeSpan.Zero) errors.Add("Sessions:JoinTimeout must be positive.");
        if (o.WatchdogPeriod < TimeSpan.FromSeconds(1)) errors.Add("Sessions:WatchdogPeriod must be at least 1s: reminders cannot tick faster.");
        if (o.StorageExpiryBuffer < TimeSpan.Zero) errors.Add("Sessions:StorageExpiryBuffer cannot be negative: state must outlive the session.");
    }
}
