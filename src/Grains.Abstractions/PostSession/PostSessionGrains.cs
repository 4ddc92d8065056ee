namespace VoiceActors.PostSession;

/// <summary>Assembles and stores the final transcript of one session (key: session id); implicitly subscribed to <c>session.completed</c>.</summary>
[Alias("va.ITranscriptGrain")]
public interface ITranscriptGrain : IGrainWithStringKey
{
    /// <summary>The stored transcript, or null until it is stored (or after retention deleted it, or for another tenant).</summary>
    [Alias("Get"), Orleans.Concurrency.AlwaysInterleave] // a read must not wait behind the store of a re-delivered event
    Task<TranscriptView?> Get(string tenantId, string actor);
}

/// <summary>Scores one session against its rubric (key: session id); implicitly subscribed to <c>session.completed</c>.</summary>
[Alias("va.IEvaluationGrain")]
public interface IEvaluationGrain : IGrainWithStringKey
{
    /// <summary>The stored evaluation (succeeded, failed with a reason, or skipped without consent), or null until there is one.</summary>
    [Alias("Get"), Orleans.Concurrency.AlwaysInterleave] // a read must not wait behind a slow LLM evaluation
    Task<EvaluationView?> Get(string tenantId, string actor);
}

/// <summary>Consent, audit and retention of one session (key: session id); implicitly subscribed to <c>session.completed</c>.</summary>
[Alias("va.IComplianceGrain")]
public interface IComplianceGrain : IGrainWithStringKey
{
    /// <summary>Writes an audit entry for a read of this session's results.</summary>
    [Alias("RecordAccess")]
    Task RecordAccess(string tenantId, string resource, string actor);

    /// <summary>Writes an audit entry for something else that happened to this session's data (e.g. a recording refused as tampered).</summary>
    [Alias("RecordAudit")]
    Task RecordAudit(string tenantId, string action, string actor, string? detail);

    [Alias("GetStatus")]
    Task<ComplianceStatus?> GetStatus(string tenantId);

    /// <summary>Deletes now if the retention deadline has passed (the retention reminder calls this).</summary>
    [Alias("EnforceRetention")]
    Task<bool> EnforceRetention();
}
