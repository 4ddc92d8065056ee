using VoiceActors.LiveKit;
namespace VoiceActors.Sessions;

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

/// <summary>Everything needed to open an interview. The gateway fills <see cref="TenantId"/> from the caller's key.</summary>
[GenerateSerializer, Immutable, Alias("va.CreateSession")]
public sealed record CreateSession(
    [property: Id(0)] string TenantId,
    [property: Id(1)] string CandidateId,
    [property: Id(2)] string JobId,
    [property: Id(3)] ProviderSettings Provider,
    [property: Id(4)] ConsentFlags Consent,
    [property: Id(5)] string Region,
    [property: Id(6)] Rubric? Rubric = null,
    [property: Id(7)] string? CandidateName = null);

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

/// <summary>A read-only view of one session, as callers see it.</summary>
[GenerateSerializer, Immutable, Alias("va.SessionSnapshot")]
public sealed record SessionSnapshot(
    [property: Id(0)] string SessionId,
    [property: Id(1)] string TenantId,
    [property: Id(2)] string CandidateId,
    [property: Id(3)] string JobId,
    [property: Id(4)] SessionStatus Status,
    [property: Id(5)] string Region,
    [property: Id(6)] string RoomName,
    [property: Id(7)] IReadOnlyList<ParticipantPresence> Participants,
    [property: Id(8)] int TurnCount,
    [property: Id(9)] ConsentFlags Consent,
    [property: Id(10)] ProviderSettings Provider,
    [property: Id(11)] DateTimeOffset CreatedAt,
    [property: Id(12)] DateTimeOffset? StartedAt,
    [property: Id(13)] DateTimeOffset? EndedAt,
    [property: Id(14)] string? EndReason,
    [property: Id(15)] string? Silo,
    [property: Id(16)] string? LiveKitUrl = null,
    [property: Id(17)] string? CandidateToken = null,
    [property: Id(20)] string? ActiveProvider = null,
    [property: Id(21)] Media.MediaStats? Media = null,
    [property: Id(22)] int ProviderFailovers = 0,
    [property: Id(28)] Regions.ReconnectDirective? Reconnect = null,
    [property: Id(24)] IReadOnlyList<string>? PostSessionPending = null,
    [property: Id(25)] DateTimeOffset? ErasedAt = null);
