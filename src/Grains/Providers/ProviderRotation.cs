using VoiceActors.LiveKit;
using VoiceActors.Sessions;
using VoiceActors.Telemetry;

namespace VoiceActors.Providers;

/// <summary>Moving a conversation to a fresh session of the same provider: the reasons, the counter, and the replay it gets.</summary>
public static class ProviderRotation
{
    /// <summary>Exposed as <c>voice_provider_rotations_total{provider,reason}</c>.</summary>
    public static readonly System.Diagnostics.Metrics.Counter<long> Rotations = VoiceMetrics.Meter.CreateCounter<long>(
        "voice_provider_rotations",
        description: "Provider sessions replaced by a fresh one of the same provider (reason: planned before the cap, expired at it); not failures.");

    /// <summary>Before the session cap, at a turn boundary (or at the last safe moment); <see cref="Expired"/>: the provider ended it at its cap.</summary>
    public const string Planned = "planned";
    public const string Expired = "expired";
    public static readonly string[] Reasons = [Planned, Expired];

    /// <summary>The OpenAI Realtime error code at the session cap.</summary>
    public const string SessionExpiredCode = "session_expired";

    public static void Count(string provider, string reason) =>
        Rotations.Add(1, new KeyValuePair<string, object?>(VoiceMetrics.ProviderTag, provider), new KeyValuePair<string, object?>("reason", reason));

    /// <summary>Every (provider, reason) series at 0, for <see cref="KnownSeries"/>.</summary>
    public static void ExportAtZero(string provider)
    {
        foreach (var reason in Reasons)
            Rotations.Add(0, new KeyValuePair<string, object?>(VoiceMetrics.ProviderTag, provider), new KeyValuePair<string, object?>("reason", reason));
    }

    /// <summary>The one-line note that keeps the model from greeting again or starting over.</summary>
    public const string ContinuationNote =
        "This is a continuation of an interview already under way: do not greet the candidate or introduce yourself again; carry on from the last turn below in the same language and voice.";

    /// <summary>
    /// What a new session is given. The newest turns go word for word (at most <see cref="ProviderSessionOptions.VerbatimTurns"/>,
    /// within half the context budget); the ones before become one line each (truncated), newest kept first when even those
    /// do not fit, with a count of what was left out. <paramref name="continuation"/> adds the note (a rotation, not a first connect).
    /// The turns before <see cref="Conversation.Earlier"/> are not at hand; <see cref="ConversationWindow"/> keeps enough that they would not have fitted.
    /// </summary>
    public static Replay Plan(Conversation conversation, ProviderSessionOptions options, bool continuation)
    {
        var turns = conversation.Turns;
        var budgetChars = options.ContextTokens * CharsPerToken;
        var verbatimChars = 0;
        var first = turns.Count;
        while (first > 0 && turns.Count - first < options.VerbatimTurns)
        {
            var size = turns[first - 1].Text.Length;
            // The newest turn always goes whole: it is what the model answers next. A digest holds the rest.
            if (first < turns.Count && verbatimChars + size > budgetChars / 2) break;
            verbatimChars += size;
            first--;
        }
        var before = conversation.Earlier + first; // the turns not replayed verbatim
        if (before == 0 && !continuation) return new Replay(turns, null, 0, 0);

        var lines = new List<string>();
        var left = budgetChars - verbatimChars - ContinuationNote.Length;
        for (var i = first - 1; i >= 0; i--)
        {
            var line = Line(turns[i], options.CondensedTurnChars);
            if (line.Length + 1 > left) break;
            left -= line.Length + 1;
            lines.Add(line);
        }
        lines.Reverse();
        var omitted = before - lines.Count;

        var context = new System.Text.StringBuilder();
        if (continuation) context.Append(ContinuationNote);
        if (before > 0)
        {
            if (context.Length > 0) context.Append('\n');
            context.Append($"Earlier in this interview ({before} turns, condensed");
            if (omitted > 0) context.Append($"; the first {omitted} left out for length");
            context.Append("):");
            foreach (var line in lines) context.Append('\n').Append(line);
        }
        return new Replay(turns.Skip(first).ToArray(), context.ToString(), before, omitted);
    }

    /// <summary>A turn as one condensed line of the replay's digest.</summary>
    internal static string Line(Turn turn, int chars) =>
        $"{(turn.Speaker == ParticipantRole.Agent ? "Interviewer" : "Candidate")}: {Condense(turn.Text, chars)}";

    /// <summary>OpenAI's rule of thumb for English text; an estimate, so the budget keeps well below the model's context.</summary>
    internal const int CharsPerToken = 4;

    internal static string Condense(string text, int chars)
    {
        var oneLine = string.Join(' ', text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
        return oneLine.Length <= chars ? oneLine : string.Concat(oneLine.AsSpan(0, chars - 1), "…");
    }
}

/// <summary>What one connect replays: <paramref name="Verbatim"/> as items, and <paramref name="Context"/> (note and condensed turns) before them.</summary>
public sealed record Replay(IReadOnlyList<Turn> Verbatim, string? Context, int Condensed, int Omitted)
{
    public int Total => Verbatim.Count + Condensed;
}

/// <summary>
/// A conversation as a replay sees it: <paramref name="Turns"/>, the newest ones (those older than the verbatim window may be
/// condensed already), after <paramref name="Earlier"/> turns that are not at hand (in the session's log).
/// </summary>
public sealed record Conversation(IReadOnlyList<Turn> Turns, int Earlier = 0)
{
    public static readonly Conversation Empty = new([]);

    /// <summary>Every turn of the conversation so far, at hand or not.</summary>
    public int Count => Earlier + Turns.Count;

    public static implicit operator Conversation(Turn[] turns) => new((IReadOnlyList<Turn>)turns, 0); // not the copy constructor
}

/// <summary>
/// What replays need of a conversation, for every provider a session may use: the most verbatim turns, the largest context
/// budget, and the shortest and longest condensed line (short lines let more turns into a digest; long ones keep more of each).
/// </summary>
public sealed record ReplayLimits(int VerbatimTurns, int BudgetChars, int ShortestLineChars, int LongestLineChars)
{
    public static ReplayLimits Of(IEnumerable<ProviderSessionOptions> sessions)
    {
        var all = sessions.ToList();
        if (all.Count == 0) all.Add(new ProviderSessionOptions());
        return new(all.Max(o => o.VerbatimTurns), all.Max(o => o.ContextTokens) * ProviderRotation.CharsPerToken,
            all.Min(o => o.CondensedTurnChars), all.Max(o => o.CondensedTurnChars));
    }

    public static ReplayLimits Of(VoiceProviderRegistry providers) => Of(providers.Names.Select(n => providers.Get(n).Session));
}

/// <summary>
/// The part of a conversation a replay can use, kept as it grows so a session's memory stays flat however long it runs: the
/// newest <see cref="ReplayLimits.VerbatimTurns"/> whole, the ones before condensed, and no more of those than a digest
/// could ever hold (<see cref="ProviderRotation.Plan"/> stops at the first line that does not fit the budget); the rest is
/// only counted. <see cref="ProviderRotation.Plan"/> on it gives what it gives on the whole conversation. Not thread-safe.
/// </summary>
public sealed class ConversationWindow(ReplayLimits limits)
{
    private readonly List<Turn> _turns = []; // oldest first
    private int _earlier;
    private int _condensed; // _turns[.._condensed] hold condensed text
    private long _digestChars; // the digest lines of the turns older than the verbatim ones, at the shortest line length

    public int Count => _earlier + _turns.Count;

    /// <summary>How many turns are held (the memory it takes), at most a budget's worth whatever <see cref="Count"/> is.</summary>
    public int Held => _turns.Count;

    public Conversation Snapshot() => new(_turns.ToArray(), _earlier);

    public void Add(Turn turn)
    {
        _turns.Add(turn);
        var older = _turns.Count - limits.VerbatimTurns; // turns now older than the verbatim window
        if (older <= _condensed) return;
        var leaving = _turns[older - 1];
        _turns[older - 1] = leaving with { Text = ProviderRotation.Condense(leaving.Text, limits.LongestLineChars) };
        _condensed = older;
        _digestChars += Cost(leaving);
        // The oldest go once the newer ones alone fill a digest: no replay could reach them.
        while (_condensed > 0 && _digestChars - Cost(_turns[0]) > limits.BudgetChars)
        {
            _digestChars -= Cost(_turns[0]);
            _turns.RemoveAt(0);
            _condensed--;
            _earlier++;
        }
    }

    /// <summary>Starts over with <paramref name="count"/> turns counted and none at hand (an erased or finished session).</summary>
    public void Reset(int count)
    {
        _turns.Clear();
        _earlier = count;
        _condensed = 0;
        _digestChars = 0;
    }

    /// <summary>
    /// Fills the window from a log of <paramref name="count"/> turns, reading back from the newest in pages only as far as a
    /// replay could reach (<paramref name="read"/>: turns [from, from + n)).
    /// </summary>
    public async Task LoadAsync(int count, Func<int, int, Task<IReadOnlyList<Turn>>> read, int page = 128)
    {
        var newestFirst = new List<Turn>();
        long digest = 0;
        var end = count;
        while (end > 0 && (newestFirst.Count < limits.VerbatimTurns || digest <= limits.BudgetChars))
        {
            var from = Math.Max(0, end - page);
            var turns = await read(from, end - from);
            for (var i = turns.Count - 1; i >= 0 && (newestFirst.Count < limits.VerbatimTurns || digest <= limits.BudgetChars); i--)
            {
                if (newestFirst.Count >= limits.VerbatimTurns) digest += Cost(turns[i]);
                newestFirst.Add(turns[i]);
            }
            end = from;
        }
        Reset(count - newestFirst.Count);
        for (var i = newestFirst.Count - 1; i >= 0; i--) Add(newestFirst[i]);
    }

    private long Cost(Turn turn) => ProviderRotation.Line(turn, limits.ShortestLineChars).Length + 1;
}
