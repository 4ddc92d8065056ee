namespace VoiceActors.Sessions;

/// <summary>
/// The persisted state of one interview (storage provider <c>sessions</c>, Redis key with a TTL): small, and the same size
/// however long the interview runs; its turns and timeline are in the session's <see cref="ISessionLog"/>. It and every record
/// it holds keep their explicit ids, the layout stored sessions were written with (the rule: Grains.Abstractions/OrleansCodeGeneration.cs).
/// </summary>
[GenerateSerializer, Alias("va.InterviewSessionState")]
public sealed class InterviewSessionState
{
    [Id(0)] public SessionStatus Status { get; set; } = SessionStatus.Created;
    [Id(1)] public string TenantId { get; set; } = "";
    [Id(2)] public string CandidateId { get; set; } = "";
    [Id(3)] public string JobId { get; set; } = "";
    [Id(4)] public ProviderSettings Provider { get; set; } = ProviderSettings.Default;
    [Id(5)] public string Region { get; set; } = "";
    [Id(6)] public string RoomName { get; set; } = "";
    [Id(7)] public List<ParticipantPresence> Participants { get; set; } = [];
    /// <summary>Written only before the session log existed: a session stored so moves them into its log when it activates, and empties this.</summary>
    [Id(8)] public List<Turn> LegacyTurns { get; set; } = [];
    [Id(9)] public ConsentFlags Consent { get; set; } = ConsentFlags.None;
    [Id(10)] public Rubric? Rubric { get; set; }
    [Id(11)] public DateTimeOffset CreatedAt { get; set; }
    [Id(12)] public DateTimeOffset? StartedAt { get; set; }
    [Id(13)] public DateTimeOffset? EndedAt { get; set; }
    [Id(14)] public DateTimeOffset? EmptySince { get; set; }
    [Id(15)] public string? EndReason { get; set; }
    [Id(16)] public string? Silo { get; set; }
    [Id(17)] public string? CandidateName { get; set; }
    [Id(18)] public int Activations { get; set; }
    /// <summary>As <see cref="LegacyTurns"/>: the timeline of a state stored before the log existed.</summary>
    [Id(19)] public List<TimelineEvent> LegacyTimeline { get; set; } = [];
    [Id(20)] public string? LiveKitUrl { get; set; }
    [Id(21)] public string? RoomSid { get; set; }
    /// <summary>Ids of the latest LiveKit webhook events applied (bounded), so LiveKit's retries are applied once.</summary>
    [Id(22)] public List<string> AppliedRoomEvents { get; set; } = [];

    /// <summary>The provider the session last connected to (after a failover, the secondary); a resumed session reconnects to it.</summary>
    [Id(30)] public string? ActiveProvider { get; set; }
    [Id(31)] public int ProviderFailovers { get; set; }
    [Id(60)] public Regions.ReconnectDirective? Reconnect { get; set; }
    [Id(61)] public int Migrations { get; set; }
    [Id(40)] public PostSession.SessionCompleted? Outbox { get; set; }
    [Id(41)] public List<string> OutboxPending { get; set; } = [];
    [Id(42)] public DateTimeOffset? ErasedAt { get; set; }

    public bool Exists => TenantId.Length > 0;
}
