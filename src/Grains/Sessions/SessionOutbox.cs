using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using VoiceActors.PostSession;

namespace VoiceActors.Sessions;

/// <summary>
/// The session's side of the post-session pipeline: a transactional outbox. The session writes the <c>session.completed</c> event
/// into its persisted state together with the terminal status; this publishes it on the (memory) stream and re-publishes it on the
/// <see cref="SessionReminders.Outbox"/> reminder until every consumer has acknowledged it. A silo crash anywhere between completion
/// and processing therefore loses nothing: the state and the reminder are durable (Redis), the stream is only the fast path.
/// It never writes the session's state: the session does, once, with the change.
/// </summary>
internal sealed partial class SessionOutbox(Grain grain, string sessionId, IServiceProvider services, ILogger logger)
{
    /// <summary>Arms re-delivery, then returns the event for the session to store: the reminder goes first, so a crash right after the write still re-delivers.</summary>
    public async Task<SessionCompleted> StageAsync(InterviewSessionState s, int turnCount, DateTimeOffset now)
    {
        var period = services.GetRequiredService<IOptions<PostSessionOptions>>().Value.RedeliveryPeriod;
        await grain.RegisterOrUpdateReminder(SessionReminders.Outbox, period, period);
        return new SessionCompleted(
            PostSessionConsumers.EventId(sessionId), sessionId, s.TenantId, s.Status, s.EndReason,
            s.CreatedAt, s.StartedAt, s.EndedAt ?? now, s.Consent,
            new TranscriptReference(sessionId, turnCount), s.CandidateId, s.JobId, s.Rubric);
    }

    /// <summary>Publishes the staged event if someone still waits for it; a failure is left to the reminder.</summary>
    public async Task PublishAsync(SessionCompleted? completed, IReadOnlyCollection<string> pending)
    {
        if (completed is null || pending.Count == 0) return;
        try
        {
            var stream = grain.GetStreamProvider(PostSessionConsumers.StreamProvider)
                .GetStream<SessionCompleted>(StreamId.Create(PostSessionConsumers.StreamNamespace, sessionId));
            await stream.OnNextAsync(completed);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogPublishFailed(e, sessionId); // the session has ended either way
        }
    }

    /// <summary>The reminder ticked: publish again, or stop once nothing is pending.</summary>
    public async Task RedeliverAsync(SessionCompleted? completed, IReadOnlyCollection<string> pending)
    {
        if (completed is null || pending.Count == 0)
        {
            await DisarmAsync();
            return;
        }
        LogRedelivering(sessionId, string.Join(",", pending));
        await PublishAsync(completed, pending);
    }

    /// <summary>Every consumer acknowledged (or the session was erased): no more re-delivery.</summary>
    public Task DisarmAsync() => grain.DropIfPresentAsync(SessionReminders.Outbox);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Publishing session.completed for {SessionId} failed; the outbox reminder will retry")]
    private partial void LogPublishFailed(Exception e, string sessionId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Re-delivering session.completed for {SessionId} to {Pending}")]
    private partial void LogRedelivering(string sessionId, string pending);
}
