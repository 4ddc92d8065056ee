using VoiceActors.LiveKit;

namespace VoiceActors.Tests.Sessions;

/// <summary>
/// Drives a session the way production does: room events as the gateway's webhook router delivers them (each with its own
/// LiveKit event id), and the watchdog as its reminder ticks. Only LiveKit and the watchdog may move a session through its room.
/// </summary>
public static class SessionDriver
{
    private static long _events;

    /// <summary>The session's media slice, as the gateway's media socket asks for it.</summary>
    public static ISessionMediaGrain Media(this IInterviewSessionGrain session) => session.AsReference<ISessionMediaGrain>();

    /// <summary>The session's room-events slice, as the gateway's webhook router asks for it.</summary>
    public static ISessionRoomEventsGrain RoomEvents(this IInterviewSessionGrain session) => session.AsReference<ISessionRoomEventsGrain>();

    public static Task<RoomEventResult> JoinAsync(this IInterviewSessionGrain session, string identity, ParticipantRole role) =>
        ApplyAsync(session, RoomEventKind.ParticipantJoined, identity, role);

    public static Task<RoomEventResult> LeaveAsync(this IInterviewSessionGrain session, string identity) =>
        ApplyAsync(session, RoomEventKind.ParticipantLeft, identity, role: null);

    public static Task<RoomEventResult> FinishRoomAsync(this IInterviewSessionGrain session) =>
        ApplyAsync(session, RoomEventKind.RoomFinished, identity: null, role: null);

    /// <summary>One tick of the session's watchdog reminder, then the status it left the session in.</summary>
    public static async Task<SessionStatus> WatchdogTickAsync(this IInterviewSessionGrain session, string tenantId)
    {
        await session.AsReference<IRemindable>().ReceiveReminder(SessionReminders.Watchdog, default); // the watchdog reads the clock, not the tick
        return (await session.Get(tenantId)).Status;
    }

    private static Task<RoomEventResult> ApplyAsync(IInterviewSessionGrain session, RoomEventKind kind, string? identity, ParticipantRole? role) =>
        session.RoomEvents().ApplyRoomEvent(
            new RoomEvent($"EV_test_{Interlocked.Increment(ref _events)}", kind, identity, role));
}
