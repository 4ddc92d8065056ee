using System.Collections.Concurrent;

namespace VoiceActors.PostSession.Persistence;

/// <summary>The embedded default: results in this process's memory, lost on restart; a single-silo system only.</summary>
public sealed class InMemoryPostSessionRepository : IPostSessionRepository
{
    private readonly ConcurrentDictionary<string, (SessionCompleted Interview, DateTimeOffset DeleteAt)> _interviews = new();
    private readonly ConcurrentDictionary<string, (string Tenant, TranscriptView Transcript)> _transcripts = new();
    private readonly ConcurrentDictionary<string, (string Tenant, EvaluationView Evaluation)> _evaluations = new();
    private readonly List<AuditEntry> _audit = [];

    public Task RecordInterviewAsync(SessionCompleted completed, DateTimeOffset deleteAt, CancellationToken ct = default)
    {
        _interviews[completed.SessionId] = (completed, deleteAt);
        return Task.CompletedTask;
    }

    public Task<bool> SaveTranscriptAsync(SessionCompleted completed, TranscriptView transcript, CancellationToken ct = default)
    {
        _interviews.TryAdd(completed.SessionId, (completed, DateTimeOffset.MaxValue));
        return Task.FromResult(_transcripts.TryAdd(completed.SessionId, (completed.TenantId, transcript)));
    }

    public Task<bool> SaveEvaluationAsync(SessionCompleted completed, EvaluationView evaluation, CancellationToken ct = default)
    {
        _interviews.TryAdd(completed.SessionId, (completed, DateTimeOffset.MaxValue));
        return Task.FromResult(_evaluations.TryAdd(completed.SessionId, (completed.TenantId, evaluation)));
    }

    public Task<TranscriptView?> GetTranscriptAsync(string tenantId, string sessionId, CancellationToken ct = default) =>
        Task.FromResult(_transcripts.TryGetValue(sessionId, out var t) && t.Tenant == tenantId ? t.Transcript : null);

    public Task<EvaluationView?> GetEvaluationAsync(string tenantId, string sessionId, CancellationToken ct = default) =>
        Task.FromResult(_evaluations.TryGetValue(sessionId, out var e) && e.Tenant == tenantId ? e.Evaluation : null);

    public Task AppendAuditAsync(AuditEntry entry, CancellationToken ct = default)
    {
        lock (_audit) _audit.Add(entry);
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<AuditEntry>> GetAuditAsync(string tenantId, string sessionId, CancellationToken ct = default)
    {
        lock (_audit) return Task.FromResult<IReadOnlyList<AuditEntry>>(_audit.FindAll(a => a.SessionId == sessionId && a.TenantId == tenantId));
    }

    public Task<DeletionCounts> DeleteSessionDataAsync(string tenantId, string sessionId, AuditEntry audit, CancellationToken ct = default)
    {
        var interviews = _interviews.TryGetValue(sessionId, out var i) && i.Interview.TenantId == tenantId && _interviews.TryRemove(sessionId, out _) ? 1 : 0;
        var turns = _transcripts.TryGetValue(sessionId, out var t) && t.Tenant == tenantId && _transcripts.TryRemove(sessionId, out _) ? t.Transcript.Turns.Count : 0;
        var evaluations = _evaluations.TryGetValue(sessionId, out var e) && e.Tenant == tenantId && _evaluations.TryRemove(sessionId, out _) ? 1 : 0;
        lock (_audit) _audit.Add(audit);
        return Task.FromResult(new DeletionCounts(interviews, turns, evaluations));
    }
}
