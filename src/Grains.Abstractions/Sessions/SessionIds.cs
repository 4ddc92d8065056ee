using System.Diagnostics.CodeAnalysis;

namespace VoiceActors.Sessions;

/// <summary>Session ids are 32 lowercase hex digits (a GUID in "N" form); the LiveKit room is named after the id.</summary>
public static class SessionIds
{
    public static string New() => Guid.NewGuid().ToString("N");

    public static bool IsValid([NotNullWhen(true)] string? id) =>
        id is { Length: 32 } && id.All(static c => c is (>= '0' and <= '9') or (>= 'a' and <= 'f'));

    private const string RoomPrefix = "interview-";

    public static string RoomName(string sessionId) => RoomPrefix + sessionId;

    /// <summary>The session an interview room belongs to, or null for a room that is not one of ours.</summary>
    public static string? FromRoomName(string? room) =>
        room is not null && room.StartsWith(RoomPrefix, StringComparison.Ordinal) && IsValid(room[RoomPrefix.Length..]) ? room[RoomPrefix.Length..] : null;
}
