namespace VoiceActors.Sessions;

public static class StorageNames
{
    /// <summary>Session state: Redis with a TTL of the maximum session duration plus a buffer.</summary>
    public const string Sessions = "sessions";

    /// <summary>The state name of a session in <see cref="Sessions"/> (placement reads it too, to find a session's region).</summary>
    public const string SessionState = "session";

    /// <summary>The state name of a session's media link (its client's sink) in <see cref="Sessions"/>, beside its state.</summary>
    public const string MediaLink = "media";

    /// <summary>Everything else that must survive a restart (regions, capacity, post-session progress).</summary>
    public const string Default = "Default";
}
