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
    /// </summary>
    public static Replay Plan(IReadOnlyList<Turn> conversation, ProviderSessionOptions options, bool continuation)
    {
        var budgetChars = options.ContextTokens * CharsPerToken;
        var verbatimChars = 0;
        var first = conversation.Count;
        while (first > 0 && conversation.Count - first < options.VerbatimTurns)
        {
            var size = conversation[first - 1].Text.Length;
            // The newest turn always goes whole: it is what the model answers next. A digest holds the rest.
            if (first < conversation.Count && verbatimChars + size > budgetChars / 2) break;
            verbatimChars += size;
            first--;
        }
        if (first == 0 && !continuation) return new Replay(conversation, null, 0, 0);

        var lines = new List<string>();
        var left = budgetChars - verbatimChars - ContinuationNote.Length;
        for (var i = first - 1; i >= 0; i--)
        {
            var line = $"{(conversation[i].Speaker == ParticipantRole.Agent ? "Interviewer" : "Candidate")}: {Condense(conversation[i].Text, options.CondensedTurnChars)}";
            if (line.Length + 1 > left) break;
            left -= line.Length + 1;
            lines.Add(line);
        }
        lines.Reverse();
        var omitted = first - lines.Count;

        var context = new System.Text.StringBuilder();
        if (continuation) context.Append(ContinuationNote);
        if (first > 0)
        {
            if (context.Length > 0) context.Append('\n');
            context.Append($"Earlier in this interview ({first} turns, condensed");
            if (omitted > 0) context.Append($"; the first {omitted} left out for length");
            context.Append("):");
            foreach (var line in lines) context.Append('\n').Append(line);
        }
        return new Replay(conversation.Skip(first).ToArray(), context.ToString(), first, omitted);
    }

    /// <summary>OpenAI's rule of thumb for English text; an estimate, so the budget keeps well below the model's context.</summary>
    private const int CharsPerToken = 4;

    private static string Condense(string text, int chars)
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
