namespace VoiceActors.Sessions;

/// <summary>After the end: the post-session consumers and retention are the callers (they read through <see cref="IInterviewSessionGrain"/>).</summary>
[Alias("va.ISessionPostSessionGrain")]
public interface ISessionPostSessionGrain : IGrainWithStringKey
{
    /// <summary>A post-session consumer stored its result for <c>session.completed</c>; the outbox stops re-delivering to it.</summary>
    [Alias("AcknowledgeCompletion")]
    Task AcknowledgeCompletion(string consumer);

    /// <summary>Appends a post-session milestone (<see cref="TimelineKinds.Evaluated"/>) to the session's timeline.</summary>
    [Alias("RecordPostSession")]
    Task RecordPostSession(string kind, string? detail);

    /// <summary>Retention deletion: wipes the turns and every personal field, keeping a tombstone timeline that records the deletion.</summary>
    [Alias("Erase")]
    Task Erase(string tenantId, string reason);
}
