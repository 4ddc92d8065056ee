using VoiceActors.LiveKit;
namespace VoiceActors.Sessions;

/// <summary>What LiveKit reported about a session's room (from a verified webhook).</summary>
[GenerateSerializer, Alias("va.RoomEventKind")]
public enum RoomEventKind
{
    ParticipantJoined = 0,
    ParticipantLeft = 1,
    TrackPublished = 2,
    RoomFinished = 3,
}

/// <summary>
/// One LiveKit webhook event for a session's room. <see cref="EventId"/> is LiveKit's event id: the session remembers recent ids
/// in its state, so a retried delivery (on any silo, after any restart) is applied once.
/// </summary>
[GenerateSerializer, Immutable, Alias("va.RoomEvent")]
public sealed record RoomEvent(
    [property: Id(0)] string EventId,
    [property: Id(1)] RoomEventKind Kind,
    [property: Id(2)] string? Identity = null,
    [property: Id(3)] ParticipantRole? Role = null,
    [property: Id(4)] DateTimeOffset? CreatedAt = null);

[GenerateSerializer, Alias("va.RoomEventResult")]
public enum RoomEventResult
{
    Applied = 0,
    /// <summary>Already applied under the same event id: a LiveKit retry.</summary>
    Duplicate = 1,
    /// <summary>No session owns this room; nothing was created or changed.</summary>
    UnknownSession = 2,
    /// <summary>Valid, but nothing to do (a participant we cannot place, or a session that has ended).</summary>
    Ignored = 3,
}

/// <summary>Everything a client needs to join a session's LiveKit room.</summary>
[GenerateSerializer, Immutable, Alias("va.LiveKitJoin")]
public sealed record LiveKitJoin(
    [property: Id(0)] string Url,
    [property: Id(1)] string Room,
    [property: Id(2)] string Identity,
    [property: Id(3)] ParticipantRole Role,
    [property: Id(4)] string Token,
    [property: Id(5)] DateTimeOffset ExpiresAt);
