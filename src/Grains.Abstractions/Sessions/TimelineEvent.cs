namespace VoiceActors.Sessions;

// Stored in InterviewSessionState: explicit ids (the rule: OrleansCodeGeneration.cs).
/// <summary>One significant thing that happened to a session, where and when (the operator's record of a complaint).</summary>
[GenerateSerializer, Immutable, Alias("va.TimelineEvent")]
public sealed record TimelineEvent(
    [property: Id(0)] DateTimeOffset At,
    [property: Id(1)] string Kind,
    [property: Id(2)] string? Detail,
    [property: Id(3)] string? Silo);

/// <summary>Timeline event kinds; free text elsewhere, but these names are what operators grep for.</summary>
public static class TimelineKinds
{
    public const string Created = "created";
    public const string RoomProvisioned = "room.provisioned";
    public const string ParticipantJoined = "participant.joined";
    public const string ParticipantLeft = "participant.left";
    public const string StateChanged = "state.changed";
    public const string Resumed = "silo.resumed";
    public const string ProviderConnected = "provider.connected";
    public const string ProviderFailed = "provider.failed";
    public const string ProviderFailover = "provider.failover";

    /// <summary>A fresh provider session replaced one near its cap (planned) or one the provider expired; not a failure.</summary>
    public const string ProviderRotated = "provider.rotated";
    public const string LatencySpike = "latency.spike";

    /// <summary>The candidate talked over the agent: queued agent audio was dropped and the provider's answer cut short.</summary>
    public const string BargeIn = "barge_in";
    public const string TurnRecorded = "turn.recorded";
    public const string Ended = "ended";
    public const string Evaluated = "evaluated";
    public const string Deleted = "deleted";
    public const string Migrating = "silo.migrating";
    public const string RegionFailover = "region.failover";
    public const string AgentRoom = "agent.room";
}
