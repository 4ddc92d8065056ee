namespace VoiceActors.Sessions;

/// <summary>What LiveKit says about a session's room: the gateway's webhook router is the caller.</summary>
[Alias("va.ISessionRoomEventsGrain")]
public interface ISessionRoomEventsGrain : IGrainWithStringKey
{
    /// <summary>Applies one verified LiveKit webhook event once per event id; unknown sessions are left uncreated.</summary>
    [Alias("ApplyRoomEvent")]
    Task<RoomEventResult> ApplyRoomEvent(RoomEvent roomEvent);
}
