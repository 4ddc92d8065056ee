namespace VoiceActors.Sessions;

/// <summary>The session grain's reminders: both durable (Redis), so a crash never loses a deadline or a delivery.</summary>
public static class SessionReminders
{
    /// <summary>Enforces the deadlines of a live session and brings it home to its region.</summary>
    public const string Watchdog = "session-watchdog";

    /// <summary>Re-delivers <c>session.completed</c> until every post-session consumer has acknowledged it.</summary>
    public const string Outbox = "session-outbox";
}
