namespace VoiceActors.Sessions;

/// <summary>
/// Which live sessions each silo holds, kept where survivors can read it after the silo dies (Redis in production): one entry
/// added when a live session starts counting on a silo, one removed when it stops (see <see cref="SiloSessionLoad"/>). When a
/// silo is declared dead, <see cref="SessionFailover"/> takes its entries and wakes exactly those sessions, without a scan.
/// </summary>
public interface ILiveSessionRegistry
{
    /// <summary>The live session <paramref name="sessionId"/> is now on this silo. Must not block: it is called on the grain's turn.</summary>
    void Added(string sessionId);

    /// <summary>The session stopped being live on this silo (it ended, deactivated or migrated away).</summary>
    void Removed(string sessionId);

    /// <summary>
    /// Takes up to <paramref name="count"/> session ids recorded for <paramref name="silo"/> and removes them, atomically, so that of
    /// several survivors taking from the same dead silo each id goes to exactly one. Empty when none are left.
    /// </summary>
    Task<string[]> TakeAsync(SiloAddress silo, int count, CancellationToken ct);
}

/// <summary>Embedded defaults: one silo, nothing survives it, so nothing to record.</summary>
public sealed class NoLiveSessionRegistry : ILiveSessionRegistry
{
    public void Added(string sessionId) { }

    public void Removed(string sessionId) { }

    public Task<string[]> TakeAsync(SiloAddress silo, int count, CancellationToken ct) => Task.FromResult<string[]>([]);
}
