using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using VoiceActors.PostSession;

namespace VoiceActors.Sessions;

/// <summary>
/// The session's side of the post-session pipeline: a transactional outbox. The <c>session.completed</c> event is written into
/// the session's persisted state together with the terminal status, published on the (memory) stream, and re-published by the
/// <see cref="OutboxReminder"/> until every consumer has acknowledged it. A silo crash anywhere between completion and processing
/// therefore loses nothing: the state and the reminder are durable (Redis), the stream is only the fast path.
/// </summary>
public sealed partial class InterviewSessionGrain
{
    internal const string OutboxReminder = "session-outbox";

    private PostSessionOptions PostSessionOptions => ServiceProvider.GetRequiredService<IOptions<PostSessionOptions>>().Value;

    async Task IInterviewSessionGrain.AcknowledgeCompletion(string consumer)
    {
        EnsureExists();
        if (!State.OutboxPending.Remove(consumer)) return; // a duplicate acknowledgement from a re-delivery
        if (State.OutboxPending.Count == 0) await DropReminderAsync(OutboxReminder);
        await session.WriteStateAsync();
    }

    async Task IInterviewSessionGrain.RecordPostSession(string kind, string? detail)
    {
        EnsureExists();
        if (kind != TimelineKinds.Evaluated)
            throw new SessionValidationException(SessionId, "kind", $"'{kind}' is not a post-session timeline event");
        if (State.ErasedAt is not null) return; // nothing is recorded about a deleted session except its deletion
        Record(kind, detail);
        await session.WriteStateAsync();
    }

    async Task IInterviewSessionGrain.Erase(string tenantId, string reason)
    {
        EnsureTenant(tenantId);
        if (State.ErasedAt is not null) return;
        State.Turns.Clear();
        State.CandidateId = "";
        State.CandidateName = null;
        State.JobId = "";
        State.Rubric = null;
        State.Participants.Clear();
        State.Provider = new ProviderSettings(State.Provider.Name); // instructions may name the candidate
        State.EndReason = null;
        State.Outbox = null;
        State.OutboxPending.Clear();
        // The tombstone keeps when things happened, not what was said or who said it.
        for (var i = 0; i < State.Timeline.Count; i++) State.Timeline[i] = State.Timeline[i] with { Detail = null };
        State.ErasedAt = clock.GetUtcNow();
        Record(TimelineKinds.Deleted, reason);
        await session.WriteStateAsync();
        await DropReminderAsync(OutboxReminder);
    }

    /// <summary>Puts the event in the outbox; the reminder is registered before the state write so a crash right after still re-delivers.</summary>
    private async Task StageCompletionAsync()
    {
        if (State.Outbox is not null) return;
        var period = PostSessionOptions.RedeliveryPeriod;
        await this.RegisterOrUpdateReminder(OutboxReminder, period, period);
        State.Outbox = new SessionCompleted(
            PostSessionConsumers.EventId(SessionId), SessionId, State.TenantId, State.Status, State.EndReason,
            State.CreatedAt, State.StartedAt, State.EndedAt ?? clock.GetUtcNow(), State.Consent,
            new TranscriptReference(SessionId, State.Turns.Count), State.CandidateId, State.JobId, State.Rubric);
        State.OutboxPending = [.. PostSessionConsumers.All];
    }

    private async Task PublishCompletionAsync()
    {
        if (State.Outbox is not { } completed || State.OutboxPending.Count == 0) return;
        try
        {
            var stream = this.GetStreamProvider(PostSessionConsumers.StreamProvider)
                .GetStream<SessionCompleted>(StreamId.Create(PostSessionConsumers.StreamNamespace, SessionId));
            await stream.OnNextAsync(completed);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The outbox reminder publishes again; the session itself has ended either way.
            LogPublishFailed(e, SessionId);
        }
    }

    private async Task RedeliverCompletionAsync()
    {
        if (!State.Exists || State.Outbox is null || State.OutboxPending.Count == 0)
        {
            await DropReminderAsync(OutboxReminder);
            return;
        }
        LogRedelivering(SessionId, string.Join(",", State.OutboxPending));
        await PublishCompletionAsync();
    }

    private async Task DropReminderAsync(string name)
    {
        var reminder = await this.GetReminder(name);
        if (reminder is not null) await this.UnregisterReminder(reminder);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Publishing session.completed for {SessionId} failed; the outbox reminder will retry")]
    private partial void LogPublishFailed(Exception e, string sessionId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Re-delivering session.completed for {SessionId} to {Pending}")]
    private partial void LogRedelivering(string sessionId, string pending);
}
