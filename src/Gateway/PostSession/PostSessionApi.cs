using VoiceActors.LiveKit;
using Microsoft.AspNetCore.Http.HttpResults;
using VoiceActors.Auth;
using VoiceActors.Gateway.Interviews;
using VoiceActors.Gateway.Recording;
using VoiceActors.PostSession;
using VoiceActors.Sessions;

namespace VoiceActors.Gateway.PostSession;

/// <summary>
/// Results of a finished interview: <c>/v1/interviews/{id}/evaluation</c>, <c>/transcript</c> and <c>/recording</c>
/// (<see cref="RecordingApi"/>), tenant-scoped, audited, 404 until ready.
/// </summary>
public static class PostSessionApi
{
    public static RouteGroupBuilder MapPostSessionApi(this IEndpointRouteBuilder app)
    {
        var api = InterviewsApi.Group(app);
        api.MapGet("/{id}/evaluation", GetEvaluation);
        api.MapGet("/{id}/transcript", GetTranscript);
        api.MapGet("/{id}/recording", RecordingApi.GetRecording);
        return api;
    }

    public static async Task<Results<Ok<EvaluationResponse>, ProblemHttpResult>> GetEvaluation(string id, HttpContext http, IGrainFactory grains)
    {
        if (!SessionIds.IsValid(id)) return InterviewsApi.MalformedId(id);
        var tenant = http.User.Tenant();
        var evaluation = await grains.GetGrain<IEvaluationGrain>(id).Get(tenant, Actor(http));
        return evaluation is null ? NotReady("evaluation", id) : TypedResults.Ok(EvaluationResponse.From(evaluation));
    }

    public static async Task<Results<Ok<TranscriptResponse>, ProblemHttpResult>> GetTranscript(string id, HttpContext http, IGrainFactory grains)
    {
        if (!SessionIds.IsValid(id)) return InterviewsApi.MalformedId(id);
        var transcript = await grains.GetGrain<ITranscriptGrain>(id).Get(http.User.Tenant(), Actor(http));
        return transcript is null ? NotReady("transcript", id) : TypedResults.Ok(TranscriptResponse.From(transcript));
    }

    /// <summary>The audit log names the tenant's API client, never its key.</summary>
    private static string Actor(HttpContext http) => $"api:{http.User.Tenant()}";

    private static ProblemHttpResult NotReady(string what, string id) => TypedResults.Problem(
        statusCode: StatusCodes.Status404NotFound,
        title: $"No {what} yet",
        detail: $"Interview '{id}' has no {what}: it is unknown, not finished, still being processed, not consented to, or deleted by retention.");
}

public sealed record CriterionScoreResponse(string Criterion, double Weight, double Score, IReadOnlyList<string> Evidence, string? Rationale);

public sealed record EvaluationResponse(
    string SessionId,
    EvaluationStatus Status,
    string Evaluator,
    double? OverallScore,
    int ScaleMax,
    IReadOnlyList<CriterionScoreResponse> Criteria,
    string? FailureReason,
    int Attempts,
    DateTimeOffset EvaluatedAt)
{
    public static EvaluationResponse From(EvaluationView e) => new(
        e.SessionId, e.Status, e.Evaluator, e.OverallScore, e.ScaleMax,
        e.Criteria.Select(c => new CriterionScoreResponse(c.Criterion, c.Weight, c.Score, c.Evidence, c.Rationale)).ToArray(),
        e.FailureReason, e.Attempts, e.EvaluatedAt);
}

public sealed record TranscriptTurnResponse(int Sequence, ParticipantRole Speaker, string Text, DateTimeOffset StartedAt, DateTimeOffset EndedAt);

/// <summary><c>Source</c>: <c>provider</c>, or <c>recording:&lt;recognizer&gt;</c> when it was recognized from the recording.</summary>
public sealed record TranscriptResponse(string SessionId, IReadOnlyList<TranscriptTurnResponse> Turns, DateTimeOffset StoredAt, string Source)
{
    public static TranscriptResponse From(TranscriptView t) => new(
        t.SessionId, t.Turns.Select(x => new TranscriptTurnResponse(x.Sequence, x.Speaker, x.Text, x.StartedAt, x.EndedAt)).ToArray(), t.StoredAt, t.Source);
}
