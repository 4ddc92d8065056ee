namespace VoiceActors.Sessions;

/// <summary>
/// A session's append-only record: its turns and its timeline events, kept beside its (small) state so that a checkpoint
/// carries only what is new, whatever the interview's length. Redis in production (two lists per session, with the state's
/// expiry rule), memory in the embedded defaults. The session grain is its only writer.
/// </summary>
public interface ISessionLog
{
    /// <summary>A 90-minute interview produces a few hundred events; the cap only stops a runaway. The first ("created") is always kept.</summary>
    const int MaxTimelineEvents = 2000;

    /// <summary>
    /// Appends <paramref name="turns"/> and <paramref name="events"/> (either may be empty) in one write carrying only them,
    /// drops the oldest events past <see cref="MaxTimelineEvents"/> (keeping the first), and renews the log's expiry.
    /// Returns the number of turns the log then holds.
    /// </summary>
    Task<int> AppendAsync(string sessionId, IReadOnlyList<Turn> turns, IReadOnlyList<TimelineEvent> events);

    Task<int> CountTurnsAsync(string sessionId);

    /// <summary>Turns <c>[from, from + count)</c>, fewer at the end of the log.</summary>
    Task<IReadOnlyList<Turn>> ReadTurnsAsync(string sessionId, int from, int count);

    Task<IReadOnlyList<TimelineEvent>> ReadTimelineAsync(string sessionId);

    /// <summary>Retention: the turns go; the timeline keeps when things happened, not what was said (every detail is dropped).</summary>
    Task EraseAsync(string sessionId);

    /// <summary>
    /// Moves the turns and timeline of a state stored before the log existed into it, once: when the log already holds
    /// anything for the session (the move happened, then the state was not rewritten) nothing is added.
    /// </summary>
    Task ImportAsync(string sessionId, IReadOnlyList<Turn> turns, IReadOnlyList<TimelineEvent> events);
}

/// <summary>
/// The embedded defaults' log: in this process's memory, like their grain storage, and like it gone with the process. A
/// silo's sessions share it; the embedded defaults run one silo (localhost clustering), so every activation finds its log.
/// </summary>
public sealed class InMemorySessionLog : ISessionLog
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Entry> _sessions = new(StringComparer.Ordinal);

    public Task<int> AppendAsync(string sessionId, IReadOnlyList<Turn> turns, IReadOnlyList<TimelineEvent> events)
    {
        var entry = _sessions.GetOrAdd(sessionId, _ => new Entry());
        lock (entry)
        {
            entry.Turns.AddRange(turns);
            entry.Timeline.AddRange(events);
            var over = entry.Timeline.Count - ISessionLog.MaxTimelineEvents;
            if (over > 0) entry.Timeline.RemoveRange(1, over);
            return Task.FromResult(entry.Turns.Count);
        }
    }

    public Task<int> CountTurnsAsync(string sessionId) => Read(sessionId, e => e.Turns.Count, 0);

    public Task<IReadOnlyList<Turn>> ReadTurnsAsync(string sessionId, int from, int count) =>
        Read<IReadOnlyList<Turn>>(sessionId, e => e.Turns.Skip(from).Take(count).ToArray(), []);

    public Task<IReadOnlyList<TimelineEvent>> ReadTimelineAsync(string sessionId) =>
        Read<IReadOnlyList<TimelineEvent>>(sessionId, e => e.Timeline.ToArray(), []);

    public Task EraseAsync(string sessionId)
    {
        if (!_sessions.TryGetValue(sessionId, out var entry)) return Task.CompletedTask;
        lock (entry)
        {
            entry.Turns.Clear();
            for (var i = 0; i < entry.Timeline.Count; i++) entry.Timeline[i] = entry.Timeline[i] with { Detail = null };
        }
        return Task.CompletedTask;
    }

    public Task ImportAsync(string sessionId, IReadOnlyList<Turn> turns, IReadOnlyList<TimelineEvent> events)
    {
        var entry = _sessions.GetOrAdd(sessionId, _ => new Entry());
        lock (entry)
        {
            if (entry.Turns.Count > 0 || entry.Timeline.Count > 0) return Task.CompletedTask;
        }
        return AppendAsync(sessionId, turns, events);
    }

    private Task<T> Read<T>(string sessionId, Func<Entry, T> read, T none)
    {
        if (!_sessions.TryGetValue(sessionId, out var entry)) return Task.FromResult(none);
        lock (entry) return Task.FromResult(read(entry));
    }

    private sealed class Entry
    {
        public List<Turn> Turns { get; } = [];
        public List<TimelineEvent> Timeline { get; } = [];
    }
}

/// <summary>What a migrating session carries of its log (sent, never stored): the replay's turns, how many came before them, and events not yet written.</summary>
[GenerateSerializer, Immutable, Alias("va.CarriedLog")]
public sealed record CarriedLog(Turn[] Turns, int Earlier, TimelineEvent[] Unsaved);
