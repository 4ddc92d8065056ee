namespace VoiceActors.Sessions;

/// <summary>Base of every error a session grain reports to its callers; each maps to one HTTP status at the gateway.</summary>
[GenerateSerializer, Alias("va.SessionException")]
public abstract class SessionException : Exception
{
    protected SessionException(string sessionId, string message) : base(message) => SessionId = sessionId;

    [Id(0)] public string SessionId { get; }
}

/// <summary>The session does not exist, or belongs to another tenant (callers cannot tell the two apart).</summary>
[GenerateSerializer, Alias("va.SessionNotFoundException")]
public sealed class SessionNotFoundException(string sessionId)
    : SessionException(sessionId, $"Interview session '{sessionId}' was not found.");

[GenerateSerializer, Alias("va.InvalidSessionTransitionException")]
public sealed class InvalidSessionTransitionException(string sessionId, SessionStatus from, SessionStatus to)
    : SessionException(sessionId, $"Interview session '{sessionId}' cannot move from {from} to {to}.")
{
    [Id(0)] public SessionStatus From { get; } = from;
    [Id(1)] public SessionStatus To { get; } = to;
}

/// <summary>A create for an id that already holds a session.</summary>
[GenerateSerializer, Alias("va.SessionAlreadyExistsException")]
public sealed class SessionAlreadyExistsException(string sessionId)
    : SessionException(sessionId, $"Interview session '{sessionId}' already exists.");
