namespace VoiceActors.Sessions;

/// <summary>The lifecycle of one interview. The allowed moves live in <see cref="SessionLifecycle"/>.</summary>
[GenerateSerializer, Alias("va.SessionStatus")]
public enum SessionStatus
{
    Created = 0,
    Provisioning = 1,
    WaitingForParticipants = 2,
    Active = 3,
    Reconnecting = 4,
    Completed = 5,
    Failed = 6,
    Expired = 7,
}

/// <summary>The one transition table of a session; every state change goes through <see cref="Ensure"/>.</summary>
public static class SessionLifecycle
{
    private static readonly Dictionary<SessionStatus, SessionStatus[]> Allowed = new()
    {
        [SessionStatus.Created] = [SessionStatus.Provisioning, SessionStatus.Failed],
        [SessionStatus.Provisioning] = [SessionStatus.WaitingForParticipants, SessionStatus.Failed, SessionStatus.Expired],
        [SessionStatus.WaitingForParticipants] = [SessionStatus.Active, SessionStatus.Completed, SessionStatus.Failed, SessionStatus.Expired],
        [SessionStatus.Active] = [SessionStatus.Reconnecting, SessionStatus.Completed, SessionStatus.Failed, SessionStatus.Expired],
        [SessionStatus.Reconnecting] = [SessionStatus.Active, SessionStatus.Completed, SessionStatus.Failed, SessionStatus.Expired],
        [SessionStatus.Completed] = [],
        [SessionStatus.Failed] = [],
        [SessionStatus.Expired] = [],
    };

    public static IReadOnlyCollection<SessionStatus> AllowedFrom(SessionStatus from) => Allowed[from];

    public static bool CanMove(SessionStatus from, SessionStatus to) => Array.IndexOf(Allowed[from], to) >= 0;

    public static void Ensure(string sessionId, SessionStatus from, SessionStatus to)
    {
        if (!CanMove(from, to))
        {
            throw new InvalidSessionTransitionException(sessionId, from, to);
        }
    }

    public static bool IsTerminal(this SessionStatus status) =>
        status is SessionStatus.Completed or SessionStatus.Failed or SessionStatus.Expired;

    /// <summary>Live sessions own a room and a provider stream and must survive a silo crash.</summary>
    public static bool IsLive(this SessionStatus status) =>
        status is SessionStatus.Provisioning or SessionStatus.WaitingForParticipants or SessionStatus.Active or SessionStatus.Reconnecting;
}
