using VoiceActors.LiveKit;
namespace VoiceActors.Sessions;

// Sent, never stored: the records here take implicit ids (the rule: OrleansCodeGeneration.cs).

/// <summary>What LiveKit reported about a session's room (from a verified webhook).</summary>
[GenerateSerializer, Alias("va.RoomEventKind")]
public enum RoomEventKind
{
    ParticipantJoined,
    ParticipantLeft,
    TrackPublished,
    RoomFinished,
}

/// <summary>
/// One LiveKit webhook event for a session's room. <see cref="EventId"/> is LiveKit's event id: the session remembers recent ids
/// in its state, so a retried delivery (on any silo, after any restart) is applied once.
/// </summary>
[GenerateSerializer, Immutable, Alias("va.RoomEvent")]
public sealed record RoomEvent(string EventId, RoomEventKind Kind, string? Identity = null, ParticipantRole? Role = null, DateTimeOffset? CreatedAt = null);

[GenerateSerializer, Alias("va.RoomEventResult")]
public enum RoomEventResult
{
    Applied,
    /// <summary>Already applied under the same event id: a LiveKit retry.</summary>
    Duplicate,
    /// <summary>No session owns this room; nothing was created or changed.</summary>
    UnknownSession,
    /// <summary>Valid, but nothing to do (a participant we cannot place, or a session that has ended).</summary>
    Ignored,
}

/// <summary>Everything a client needs to join a session's LiveKit room.</summary>
[GenerateSerializer, Immutable, Alias("va.LiveKitJoin")]
public sealed record LiveKitJoin(string Url, string Room, string Identity, ParticipantRole Role, string Token, DateTimeOffset ExpiresAt);
