using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using VoiceActors.PostSession.Persistence;
using VoiceActors.Recording;
using VoiceActors.Sessions;

namespace VoiceActors.PostSession;

[GenerateSerializer, Alias("va.ComplianceGrainState")]
public sealed class ComplianceGrainState
{
    [Id(0)] public string TenantId { get; set; } = "";
    [Id(1)] public ConsentFlags Consent { get; set; } = ConsentFlags.None;
    [Id(2)] public DateTimeOffset EndedAt { get; set; }
    [Id(3)] public DateTimeOffset DeleteAt { get; set; }
    [Id(4)] public DateTimeOffset? DeletedAt { get; set; }

    public bool Recorded => TenantId.Length > 0;
}

/// <summary>
/// Consent, audit and retention of one session: records the consent given, audits every read and the deletion, and deletes the
/// transcript, the evaluation, the interview row and the session's state when the tenant's retention period has passed. The
/// deadline is watched by a durable reminder, so it survives restarts and silo crashes.
/// </summary>
[ImplicitStreamSubscription(PostSessionConsumers.StreamNamespace)]
public sealed partial class ComplianceGrain(
    [PersistentState("compliance", StorageNames.Default)] IPersistentState<ComplianceGrainState> state,
    IPostSessionRepository repository,
    IOptions<RetentionOptions> retention,
    RecordingVault recordings,
    TimeProvider clock,
    ILogger<ComplianceGrain> logger) : PostSessionConsumerGrain(PostSessionConsumers.Compliance), IComplianceGrain, IRemindable
{
    internal const string RetentionReminder = "retention";

    private ComplianceGrainState State => state.State;

    protected override async Task HandleAsync(SessionCompleted completed)
    {
        if (!State.Recorded)
        {
            var deleteAt = completed.EndedAt + retention.Value.For(completed.TenantId);
            // The reminder goes first: once the deadline is stored, nothing may forget to enforce it.
            await this.RegisterOrUpdateReminder(RetentionReminder, retention.Value.CheckPeriod, retention.Value.CheckPeriod);
            await repository.RecordInterviewAsync(completed, deleteAt);
            var now = clock.GetUtcNow();
            var consent = completed.Consent;
            await repository.AppendAuditAsync(new AuditEntry(SessionId, completed.TenantId, AuditActions.ConsentRecorded, "compliance",
                $"recording={consent.Recording} transcription={consent.Transcription} aiEvaluation={consent.AiEvaluation}", now));
            await repository.AppendAuditAsync(new AuditEntry(SessionId, completed.TenantId, AuditActions.RetentionScheduled, "compliance",
                $"delete at {deleteAt:O}", now));
            (State.TenantId, State.Consent, State.EndedAt, State.DeleteAt) = (completed.TenantId, consent, completed.EndedAt, deleteAt);
            await state.WriteStateAsync();
        }
    }

    async Task IComplianceGrain.RecordAccess(string tenantId, string resource, string actor) =>
        await repository.AppendAuditAsync(new AuditEntry(SessionId, tenantId, AuditActions.Accessed, actor, resource, clock.GetUtcNow()));

    async Task IComplianceGrain.RecordAudit(string tenantId, string action, string actor, string? detail) =>
        await repository.AppendAuditAsync(new AuditEntry(SessionId, tenantId, action, actor, detail, clock.GetUtcNow()));

    Task<ComplianceStatus?> IComplianceGrain.GetStatus(string tenantId) => Task.FromResult(
        State.Recorded && State.TenantId == tenantId ? new ComplianceStatus(SessionId, State.Consent, State.DeleteAt, State.DeletedAt) : null);

    Task<bool> IComplianceGrain.EnforceRetention() => EnforceRetentionAsync();

    async Task IRemindable.ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName != RetentionReminder) return;
        if (!State.Recorded || State.DeletedAt is not null)
        {
            await this.DropIfPresentAsync(RetentionReminder); // nothing (left) to watch
            return;
        }
        await EnforceRetentionAsync();
    }

    private async Task<bool> EnforceRetentionAsync()
    {
        if (!State.Recorded || State.DeletedAt is not null || clock.GetUtcNow() < State.DeleteAt) return false;
        var session = Session;
        var erased = "session state erased";
        try
        {
            var snapshot = await session.Get(State.TenantId);
            if (snapshot.PostSessionPending is { Count: > 0 } pending)
            {
                LogPostponed(SessionId, string.Join(",", pending)); // deleting now would race a consumer still storing its result
                return false;
            }
            await SessionPipeline.Erase(State.TenantId, "retention period ended");
        }
        catch (SessionNotFoundException)
        {
            erased = "session state had already expired"; // the session store's own TTL got there first
        }
        // Always, consent or not: erasure must hold even for objects an earlier bug or a resumed session might have left.
        // A store that fails throws here and the reminder tries again; nothing below is marked deleted before the audio is.
        var (objects, key) = await recordings.EraseAsync(State.TenantId, SessionId, CancellationToken.None);
        var recording = objects == 0 ? "no recording objects" : $"recording: {objects} objects deleted{(key ? ", the wrapped data key first" : "")}";
        var now = clock.GetUtcNow();
        var counts = await repository.DeleteSessionDataAsync(State.TenantId, SessionId, new AuditEntry(SessionId, State.TenantId,
            AuditActions.RetentionDeleted, "retention", $"deadline {State.DeleteAt:O}; {erased}; {recording}", now));
        State.DeletedAt = now;
        await state.WriteStateAsync();
        await this.DropIfPresentAsync(RetentionReminder);
        LogDeleted(SessionId, counts.ToString());
        return true;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Retention deletion of {SessionId} postponed: {Pending} still storing")]
    private partial void LogPostponed(string sessionId, string pending);

    [LoggerMessage(Level = LogLevel.Information, Message = "Retention deleted {SessionId}: {Counts}")]
    private partial void LogDeleted(string sessionId, string counts);
}
