using VoiceActors.LiveKit;
using VoiceActors.Sessions;

namespace VoiceActors.PostSession;

// Sent, never stored: the records here take implicit ids (the rule: OrleansCodeGeneration.cs).

[GenerateSerializer, Immutable, Alias("va.TranscriptTurn")]
public sealed record TranscriptTurn(int Sequence, ParticipantRole Speaker, string Text, DateTimeOffset StartedAt, DateTimeOffset EndedAt);

[GenerateSerializer, Immutable, Alias("va.TranscriptView")]
public sealed record TranscriptView(
    string SessionId, IReadOnlyList<TranscriptTurn> Turns, DateTimeOffset StoredAt, string Source = TranscriptSources.Provider);

/// <summary>Where a transcript came from: the voice provider, or a recognizer run on the recording (<c>recording:&lt;recognizer&gt;</c>).</summary>
public static class TranscriptSources
{
    public const string Provider = "provider";
}

[GenerateSerializer, Alias("va.EvaluationStatus")]
public enum EvaluationStatus
{
    Succeeded,
    /// <summary>The evaluator gave up after its retries; <see cref="EvaluationView.FailureReason"/> says why. Never scored as zero.</summary>
    Failed,
    /// <summary>The candidate did not consent to AI evaluation, or the session ended without an interview.</summary>
    Skipped,
}

[GenerateSerializer, Immutable, Alias("va.CriterionScore")]
public sealed record CriterionScore(string Criterion, double Weight, double Score, IReadOnlyList<string> Evidence, string? Rationale = null);

[GenerateSerializer, Immutable, Alias("va.EvaluationView")]
public sealed record EvaluationView(
    string SessionId,
    EvaluationStatus Status,
    string Evaluator,
    double? OverallScore,
    int ScaleMax,
    IReadOnlyList<CriterionScore> Criteria,
    string? FailureReason,
    int Attempts,
    DateTimeOffset EvaluatedAt);

[GenerateSerializer, Immutable, Alias("va.ComplianceStatus")]
public sealed record ComplianceStatus(string SessionId, ConsentFlags Consent, DateTimeOffset DeleteAt, DateTimeOffset? DeletedAt);
