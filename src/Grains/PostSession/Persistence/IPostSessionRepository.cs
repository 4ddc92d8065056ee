namespace VoiceActors.PostSession.Persistence;

/// <summary>
/// Where interview records, transcripts, evaluations and the audit log live: PostgreSQL when <c>ConnectionStrings:Postgres</c>
/// is set, otherwise process memory (embedded default; gone on restart). Writes are idempotent: the first result per session wins.
/// Reads are tenant-scoped: another tenant's session reads as absent.
/// </summary>
public interface IPostSessionRepository
{
    /// <summary>Upserts the interview row with its consent and retention deadline.</summary>
    Task RecordInterviewAsync(SessionCompleted completed, DateTimeOffset deleteAt, CancellationToken ct = default);

    /// <summary>Stores the transcript once; returns false when one was already stored (a re-delivered event).</summary>
    Task<bool> SaveTranscriptAsync(SessionCompleted completed, TranscriptView transcript, CancellationToken ct = default);

    /// <summary>Stores the evaluation once; returns false when one was already stored (a re-delivered event).</summary>
    Task<bool> SaveEvaluationAsync(SessionCompleted completed, EvaluationView evaluation, CancellationToken ct = default);

    Task<TranscriptView?> GetTranscriptAsync(string tenantId, string sessionId, CancellationToken ct = default);

    Task<EvaluationView?> GetEvaluationAsync(string tenantId, string sessionId, CancellationToken ct = default);

    Task AppendAuditAsync(AuditEntry entry, CancellationToken ct = default);

    Task<IReadOnlyList<AuditEntry>> GetAuditAsync(string tenantId, string sessionId, CancellationToken ct = default);

    /// <summary>Deletes the interview, its transcript and its evaluation, and appends <paramref name="audit"/>, in one transaction.</summary>
    Task<DeletionCounts> DeleteSessionDataAsync(string tenantId, string sessionId, AuditEntry audit, CancellationToken ct = default);
}

/// <summary>One line of the audit log. It holds no transcript text or candidate data, so it outlives retention deletion.</summary>
public sealed record AuditEntry(string SessionId, string TenantId, string Action, string Actor, string? Detail, DateTimeOffset At);

public sealed record DeletionCounts(int Interviews, int TranscriptTurns, int Evaluations)
{
    public override string ToString() => $"interviews={Interviews} transcript_turns={TranscriptTurns} evaluations={Evaluations}";
}

public static class AuditActions
{
    public const string ConsentRecorded = "consent.recorded";
    public const string TranscriptStored = "transcript.stored";
    public const string EvaluationStored = "evaluation.stored";
    public const string Accessed = "accessed";
    public const string RetentionScheduled = "retention.scheduled";
    public const string RetentionDeleted = "retention.deleted";
    public const string WebhookDelivered = "webhook.delivered";
    public const string WebhookFailed = "webhook.failed";
    public const string RecordingRefused = "recording.refused";
}
