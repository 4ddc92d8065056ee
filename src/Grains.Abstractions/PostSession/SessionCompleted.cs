using VoiceActors.Sessions;

namespace VoiceActors.PostSession;

// Stored in InterviewSessionState's outbox: these records keep their explicit ids (the rule: OrleansCodeGeneration.cs).

/// <summary>
/// The <c>session.completed</c> event: emitted once when a session reaches Completed, Failed or Expired, kept in the
/// session's outbox and re-delivered until every consumer in <see cref="PostSessionConsumers.All"/> has acknowledged it.
/// The transcript itself stays in the session grain; <see cref="Transcript"/> says where and how many turns to read.
/// </summary>
[GenerateSerializer, Immutable, Alias("va.SessionCompleted")]
public sealed record SessionCompleted(
    [property: Id(0)] string EventId,
    [property: Id(1)] string SessionId,
    [property: Id(2)] string TenantId,
    [property: Id(3)] SessionStatus Outcome,
    [property: Id(4)] string? EndReason,
    [property: Id(5)] DateTimeOffset CreatedAt,
    [property: Id(6)] DateTimeOffset? StartedAt,
    [property: Id(7)] DateTimeOffset EndedAt,
    [property: Id(8)] ConsentFlags Consent,
    [property: Id(9)] TranscriptReference Transcript,
    [property: Id(10)] string CandidateId,
    [property: Id(11)] string JobId,
    [property: Id(12)] Rubric? Rubric);

/// <summary>The recorded turns <c>[0, TurnCount)</c> of a session, read with <see cref="IInterviewSessionGrain.GetTurns"/>.</summary>
[GenerateSerializer, Immutable, Alias("va.TranscriptReference")]
public sealed record TranscriptReference(
    [property: Id(0)] string SessionId,
    [property: Id(1)] int TurnCount);

/// <summary>The stream that carries <see cref="SessionCompleted"/>, keyed by session id, and who must acknowledge it.</summary>
public static class PostSessionConsumers
{
    public const string StreamProvider = "postsession";
    public const string StreamNamespace = "session.completed";

    public const string Transcript = "transcript";
    public const string Evaluation = "evaluation";
    public const string Compliance = "compliance";

    public static IReadOnlyList<string> All { get; } = [Transcript, Evaluation, Compliance];

    public static string EventId(string sessionId) => $"{sessionId}:completed";
}
