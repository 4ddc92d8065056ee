using Orleans.Streams;
using Orleans.Streams.Core;
using VoiceActors.Sessions;

namespace VoiceActors.PostSession;

/// <summary>
/// One consumer of <c>session.completed</c> (key: the session id): resumes its implicit subscription, handles the event for its
/// own session, then acknowledges it to the session's outbox. A handler must be idempotent: the outbox re-delivers until acknowledged.
/// </summary>
public abstract class PostSessionConsumerGrain(string consumer) : Grain, IStreamSubscriptionObserver, IAsyncObserver<SessionCompleted>
{
    protected string SessionId => this.GetPrimaryKeyString();

    /// <summary>The session's tenant API, for reading what the session recorded.</summary>
    protected IInterviewSessionGrain Session => GrainFactory.GetGrain<IInterviewSessionGrain>(SessionId);

    /// <summary>The session's post-session slice: acknowledgements, milestones, retention.</summary>
    protected ISessionPostSessionGrain SessionPipeline => GrainFactory.GetGrain<ISessionPostSessionGrain>(SessionId);

    protected abstract Task HandleAsync(SessionCompleted completed);

    /// <summary>A stored result read for a caller, the access audited when there was something to read.</summary>
    protected async Task<T?> ReadAuditedAsync<T>(Task<T?> read, string tenantId, string resource, string actor) where T : class
    {
        var found = await read;
        if (found is not null) await GrainFactory.GetGrain<IComplianceGrain>(SessionId).RecordAccess(tenantId, resource, actor);
        return found;
    }

    async Task IStreamSubscriptionObserver.OnSubscribed(IStreamSubscriptionHandleFactory handleFactory) =>
        await handleFactory.Create<SessionCompleted>().ResumeAsync(this);

    async Task IAsyncObserver<SessionCompleted>.OnNextAsync(SessionCompleted completed, StreamSequenceToken? token)
    {
        if (completed.SessionId != SessionId) return;
        await HandleAsync(completed);
        await SessionPipeline.AcknowledgeCompletion(consumer);
    }

    Task IAsyncObserver<SessionCompleted>.OnCompletedAsync() => Task.CompletedTask;

    Task IAsyncObserver<SessionCompleted>.OnErrorAsync(Exception ex) => Task.CompletedTask;
}
