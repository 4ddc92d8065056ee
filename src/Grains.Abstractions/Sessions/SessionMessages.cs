using VoiceActors.LiveKit;
namespace VoiceActors.Sessions;

// Stored in InterviewSessionState: these records keep their explicit ids (the rule: OrleansCodeGeneration.cs).

[GenerateSerializer, Immutable, Alias("va.ConsentFlags")]
public sealed record ConsentFlags(
    [property: Id(0)] bool Recording,
    [property: Id(1)] bool Transcription,
    [property: Id(2)] bool AiEvaluation)
{
    public static ConsentFlags None { get; } = new(false, false, false);
}

/// <summary>Which AI voice provider runs the interview, and how.</summary>
[GenerateSerializer, Immutable, Alias("va.ProviderSettings")]
public sealed record ProviderSettings(
    [property: Id(0)] string Name,
    [property: Id(1)] string? Model = null,
    [property: Id(2)] string? Voice = null,
    [property: Id(3)] string? Instructions = null,
    [property: Id(4)] string? Secondary = null)
{
    public static ProviderSettings Default { get; } = new("simulated");
}

[GenerateSerializer, Immutable, Alias("va.RubricCriterion")]
public sealed record RubricCriterion(
    [property: Id(0)] string Name,
    [property: Id(1)] string Description,
    [property: Id(2)] double Weight,
    [property: Id(3)] IReadOnlyList<string> Keywords);

[GenerateSerializer, Immutable, Alias("va.Rubric")]
public sealed record Rubric(
    [property: Id(0)] IReadOnlyList<RubricCriterion> Criteria,
    [property: Id(1)] int ScaleMax = 5);

/// <summary>One utterance of the conversation.</summary>
[GenerateSerializer, Immutable, Alias("va.Turn")]
public sealed record Turn(
    [property: Id(0)] ParticipantRole Speaker,
    [property: Id(1)] string Text,
    [property: Id(2)] DateTimeOffset StartedAt,
    [property: Id(3)] DateTimeOffset EndedAt);

[GenerateSerializer, Immutable, Alias("va.ParticipantPresence")]
public sealed record ParticipantPresence(
    [property: Id(0)] string Identity,
    [property: Id(1)] ParticipantRole Role,
    [property: Id(2)] DateTimeOffset JoinedAt);

// Sent, never stored: the records here take implicit ids (the rule: OrleansCodeGeneration.cs).

/// <summary>Everything needed to open an interview. The gateway fills <see cref="TenantId"/> from the caller's key.</summary>
[GenerateSerializer, Immutable, Alias("va.CreateSession")]
public sealed record CreateSession(
    string TenantId,
    string CandidateId,
    string JobId,
    ProviderSettings Provider,
    ConsentFlags Consent,
    string Region,
    Rubric? Rubric = null,
    string? CandidateName = null);

/// <summary>A read-only view of one session, as callers see it.</summary>
[GenerateSerializer, Immutable, Alias("va.SessionSnapshot")]
public sealed record SessionSnapshot(
    string SessionId,
    string TenantId,
    string CandidateId,
    string JobId,
    SessionStatus Status,
    string Region,
    string RoomName,
    IReadOnlyList<ParticipantPresence> Participants,
    int TurnCount,
    ConsentFlags Consent,
    ProviderSettings Provider,
    DateTimeOffset CreatedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? EndedAt,
    string? EndReason,
    string? Silo,
    string? LiveKitUrl = null,
    string? CandidateToken = null,
    string? ActiveProvider = null,
    Media.MediaStats? Media = null,
    int ProviderFailovers = 0,
    Regions.ReconnectDirective? Reconnect = null,
    IReadOnlyList<string>? PostSessionPending = null,
    DateTimeOffset? ErasedAt = null);

/// <summary>
/// Where the candidate connects: the session's LiveKit URL and room, and after a region failover the reconnect directive
/// (the backup region's URL and a freshly minted candidate token). Read by the candidate page with its own room token.
/// </summary>
[GenerateSerializer, Immutable, Alias("va.CandidateConnection")]
public sealed record CandidateConnection(SessionStatus Status, string? LiveKitUrl, string Room, Regions.ReconnectDirective? Reconnect);
