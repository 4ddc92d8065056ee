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

    /// <summary>
    /// Period of the watchdog reminder: it enforces the deadlines and is the safety net of failover (a crashed silo's sessions are woken
    /// by <see cref="SessionFailover"/> as soon as it is declared dead; the tick catches any it missed). 15 s: 667 ticks/s at 10,000 sessions, not 5,000.
    /// </summary>
    public TimeSpan WatchdogPeriod { get; set; } = TimeSpan.FromSeconds(15);

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
