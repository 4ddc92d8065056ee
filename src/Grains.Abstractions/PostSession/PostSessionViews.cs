using VoiceActors.LiveKit;
using VoiceActors.Sessions;

namespace VoiceActors.PostSession;

[GenerateSerializer, Immutable, Alias("va.TranscriptTurn")]
public sealed record TranscriptTurn(
    [property: Id(0)] int Sequence,
    [property: Id(1)] ParticipantRole Speaker,
    [property: Id(2)] string Text,
    [property: Id(3)] DateTimeOffset StartedAt,
    [property: Id(4)] DateTimeOffset EndedAt);

[GenerateSerializer, Immutable, Alias("va.TranscriptView")]
public sealed record TranscriptView(
    [property: Id(0)] string SessionId,
    [property: Id(1)] IReadOnlyList<TranscriptTurn> Turns,
    [property: Id(2)] DateTimeOffset StoredAt,
    [property: Id(3)] string Source = TranscriptSources.Provider);

/// <summary>Where a transcript came from: the voice provider, or a recognizer run on the recording (<c>recording:&lt;recognizer&gt;</c>).</summary>
public static class TranscriptSources
{
    public const string Provider = "provider";
}

[GenerateSerializer, Alias("va.EvaluationStatus")]
public enum EvaluationStatus
{
    Succeeded = 0,
    /// <summary>The evaluator gave up after its retries; <see cref="EvaluationView.FailureReason"/> says why. Never scored as zero.</summary>
    Failed = 1,
    /// <summary>The candidate did not consent to AI evaluation, or the session ended without an interview.</summary>
    Skipped = 2,
}

[GenerateSerializer, Immutable, Alias("va.CriterionScore")]
public sealed record CriterionScore(
    [property: Id(0)] string Criterion,
    [property: Id(1)] double Weight,
    [property: Id(2)] double Score,
    [property: Id(3)] IReadOnlyList<string> Evidence,
    [property: Id(4)] string? Rationale = null);

[GenerateSerializer, Immutable, Alias("va.EvaluationView")]
public sealed record EvaluationView(
    [property: Id(0)] string SessionId,
    [property: Id(1)] EvaluationStatus Status,
    [property: Id(2)] string Evaluator,
    [property: Id(3)] double? OverallScore,
    [property: Id(4)] int ScaleMax,
    [property: Id(5)] IReadOnlyList<CriterionScore> Criteria,
    [property: Id(6)] string? FailureReason,
    [property: Id(7)] int Attempts,
    [property: Id(8)] DateTimeOffset EvaluatedAt);

[GenerateSerializer, Immutable, Alias("va.ComplianceStatus")]
public sealed record ComplianceStatus(
    [property: Id(0)] string SessionId,
    [property: Id(1)] ConsentFlags Consent,
    [property: Id(2)] DateTimeOffset DeleteAt,
    [property: Id(3)] DateTimeOffset? DeletedAt);
