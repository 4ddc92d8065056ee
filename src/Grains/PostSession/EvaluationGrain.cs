using Microsoft.Extensions.Logging;
using VoiceActors.PostSession.Persistence;
using VoiceActors.Sessions;

namespace VoiceActors.PostSession;

/// <summary>What an evaluation grain must remember across re-deliveries beyond the stored evaluation itself.</summary>
[GenerateSerializer, Alias("va.EvaluationGrainState")]
public sealed class EvaluationGrainState
{
    [Id(0)] public bool TimelineRecorded { get; set; }
    [Id(1)] public bool InterviewerNotified { get; set; }
}

/// <summary>
/// Scores the interview against its rubric with the configured <see cref="IInterviewEvaluator"/>, stores the result exactly once
/// (the repository's unique key decides), records it on the session's timeline, notifies the interviewer, then acknowledges.
/// Every step is idempotent, so a re-delivered event finishes whatever a crashed silo left undone.
/// </summary>
[ImplicitStreamSubscription(PostSessionConsumers.StreamNamespace)]
public sealed partial class EvaluationGrain(
    [PersistentState("evaluation", StorageNames.Default)] IPersistentState<EvaluationGrainState> state,
    IPostSessionRepository repository,
    EvaluationRunner runner,
    InterviewerWebhook webhook,
    TimeProvider clock,
    ILogger<EvaluationGrain> logger) : PostSessionConsumerGrain(PostSessionConsumers.Evaluation), IEvaluationGrain
{
    protected override async Task HandleAsync(SessionCompleted completed)
    {
        var session = Session;
        var snapshot = await session.Get(completed.TenantId);
        if (snapshot.ErasedAt is not null) return;

        var evaluation = await repository.GetEvaluationAsync(completed.TenantId, SessionId);
        if (evaluation is null)
        {
            var turns = TranscriptGrain.Assemble(await session.GetTurns(completed.TenantId), completed.Transcript.TurnCount);
            evaluation = await runner.RunAsync(completed, turns);
            if (await repository.SaveEvaluationAsync(completed, evaluation))
            {
                await repository.AppendAuditAsync(new AuditEntry(SessionId, completed.TenantId, AuditActions.EvaluationStored, evaluation.Evaluator,
                    Describe(evaluation), clock.GetUtcNow()));
                var ids = new Telemetry.SessionLogScope(SessionId); // off the session grain's turn, its line carries the same ids
                ids.Identify(completed.TenantId, completed.CandidateId);
                using (logger.BeginScope(ids)) LogStored(SessionId, evaluation.Status, evaluation.OverallScore);
            }
        }
        if (!state.State.TimelineRecorded)
        {
            await SessionPipeline.RecordPostSession(TimelineKinds.Evaluated, Describe(evaluation));
            state.State.TimelineRecorded = true;
            await state.WriteStateAsync();
        }
        if (webhook.Enabled && !state.State.InterviewerNotified)
        {
            var result = await webhook.NotifyAsync(completed.TenantId, evaluation);
            await repository.AppendAuditAsync(new AuditEntry(SessionId, completed.TenantId,
                result.Delivered ? AuditActions.WebhookDelivered : AuditActions.WebhookFailed, "webhook",
                $"{result.Detail} after {result.Attempts} attempt(s)", clock.GetUtcNow()));
            state.State.InterviewerNotified = true; // a final failure is recorded in the audit log, not retried forever
            await state.WriteStateAsync();
        }
    }

    Task<EvaluationView?> IEvaluationGrain.Get(string tenantId, string actor) =>
        ReadAuditedAsync(repository.GetEvaluationAsync(tenantId, SessionId), tenantId, "evaluation", actor);

    private static string Describe(EvaluationView e) => e.Status switch
    {
        EvaluationStatus.Succeeded => $"{e.OverallScore:0.##}/{e.ScaleMax} by {e.Evaluator}",
        EvaluationStatus.Failed => $"failed after {e.Attempts} attempt(s): {e.FailureReason}",
        _ => $"skipped: {e.FailureReason}",
    };

    [LoggerMessage(Level = LogLevel.Information, Message = "Evaluation of {SessionId} stored: {Status} {Score}")]
    private partial void LogStored(string sessionId, EvaluationStatus status, double? score);
}
