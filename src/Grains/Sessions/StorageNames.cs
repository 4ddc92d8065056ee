namespace VoiceActors.Sessions;

public static class StorageNames
{
    /// <summary>Session state: Redis with a TTL of the maximum session duration plus a buffer.</summary>
    public const string Sessions = "sessions";

    /// <summary>Everything else that must survive a restart (regions, capacity, post-session progress).</summary>
    public const string Default = "Default";
}
