using VoiceActors.LiveKit;
namespace VoiceActors.Sessions;

/// <summary>One interview, keyed by its session id. Tenant-scoped calls take the caller's tenant and report another tenant's session as not found.</summary>
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

    [Alias("ParticipantJoined")]
    Task ParticipantJoined(string identity, ParticipantRole role);

    [Alias("ParticipantLeft")]
    Task ParticipantLeft(string identity);

    /// <summary>The room is gone (closed by LiveKit or its empty timeout).</summary>
    [Alias("RoomFinished")]
    Task RoomFinished();

    /// <summary>Applies one verified LiveKit webhook event once per event id; unknown sessions are left uncreated.</summary>
    [Alias("ApplyRoomEvent")]
    Task<RoomEventResult> ApplyRoomEvent(RoomEvent roomEvent);

    /// <summary>A subscribe-only, hidden LiveKit token for an observer of this live session (TTL bounded by the time left).</summary>
    [Alias("IssueObserverToken")]
    Task<LiveKitJoin> IssueObserverToken(string tenantId, string observerId);

    [Alias("RecordTurn")]
    Task RecordTurn(Turn turn);

    [Alias("GetTurns")]
    Task<IReadOnlyList<Turn>> GetTurns(string tenantId);

    [Alias("GetTimeline")]
    Task<IReadOnlyList<TimelineEvent>> GetTimeline(string tenantId);

    /// <summary>
    /// Candidate audio on the hot path (from the gateway's media socket, an RTC bridge, or a load tester). Interleaves with
    /// the grain's other calls so a frame never waits behind a state write; it only queues the frame (no I/O).
    /// Frames beyond real time (plus a burst) are dropped and counted; a malformed frame is a <see cref="SessionValidationException"/>.
    /// </summary>
    [Alias("PushCandidateAudio"), Orleans.Concurrency.AlwaysInterleave]
    Task PushCandidateAudio(Media.AudioFrame frame);

    /// <summary>Registers where provider audio and transcript go; one sink per session, the newest wins (a reconnecting client replaces its old socket).</summary>
    [Alias("AttachMedia")]
    Task AttachMedia(Media.IAudioSink sink);

    [Alias("DetachMedia")]
    Task DetachMedia(Media.IAudioSink sink);

    /// <summary>Enforces the maximum duration and the empty timeout; the watchdog reminder calls it.</summary>
    [Alias("Tick")]
    Task<SessionStatus> Tick();

    /// <summary>Drain: a live session on <paramref name="fromSilo"/> migrates to another silo of its region once idle. Returns the silo it is on now.</summary>
    [Alias("Relocate")]
    Task<string?> Relocate(string fromSilo, string reason);

    /// <summary>Its region went down: the session moves to the target region and publishes a reconnect directive (null if it was not in that region).</summary>
    [Alias("FailOver")]
    Task<Regions.ReconnectDirective?> FailOver(Regions.RegionFailover failover);
    /// <summary>A post-session consumer stored its result for <c>session.completed</c>; the outbox stops re-delivering to it.</summary>
    [Alias("AcknowledgeCompletion")]
    Task AcknowledgeCompletion(string consumer);

    /// <summary>Appends a post-session milestone (<see cref="TimelineKinds.Evaluated"/>) to the session's timeline.</summary>
    [Alias("RecordPostSession")]
    Task RecordPostSession(string kind, string? detail);

    /// <summary>Retention deletion: wipes the turns and every personal field, keeping a tombstone timeline that records the deletion.</summary>
    [Alias("Erase")]
    Task Erase(string tenantId, string reason);
}
