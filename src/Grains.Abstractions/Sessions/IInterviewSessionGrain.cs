using VoiceActors.LiveKit;
namespace VoiceActors.Sessions;

/// <summary>
/// One interview, keyed by its session id: the tenant API (the gateway, the load tester). Tenant-scoped calls take the caller's
/// tenant and report another tenant's session as not found. The same grain answers its other callers through their own slices:
/// <see cref="ISessionMediaGrain"/>, <see cref="ISessionRoomEventsGrain"/>, <see cref="ISessionOperationsGrain"/> and
/// <see cref="ISessionPostSessionGrain"/>.
/// </summary>
[Alias("va.IInterviewSessionGrain")]
public interface IInterviewSessionGrain : IGrainWithStringKey
{
    [Alias("Create")]
    Task<SessionSnapshot> Create(CreateSession command);

    [Alias("Get")]
    Task<SessionSnapshot> Get(string tenantId);

    /// <summary>Ends the interview normally; the post-session pipeline starts.</summary>
    [Alias("Complete")]
    Task<SessionSnapshot> Complete(string tenantId, string reason);

    /// <summary>A subscribe-only, hidden LiveKit token for an observer of this live session (TTL bounded by the time left).</summary>
    [Alias("IssueObserverToken")]
    Task<LiveKitJoin> IssueObserverToken(string tenantId, string observerId);

    /// <summary>Appends a turn and checkpoints it (load testers driving grains directly; the relay records provider turns itself).</summary>
    [Alias("RecordTurn")]
    Task RecordTurn(Turn turn);

    [Alias("GetTurns")]
    Task<IReadOnlyList<Turn>> GetTurns(string tenantId);

    [Alias("GetTimeline")]
    Task<IReadOnlyList<TimelineEvent>> GetTimeline(string tenantId);
}
