using System.Text.Json.Serialization;
using VoiceActors.LoadTest.Load;

namespace VoiceActors.LoadTest.Reporting;

/// <summary>What one session heard, and when its provider sessions rotated (UTC ticks; expired: at the provider's cap, not planned).</summary>
public sealed record SessionHeard(string SessionId, AnswerRecord[] Answers, long[] Unanswered, Silence[] Silences, (long AtUtcTicks, bool Expired)[] Rotations);

/// <summary>
/// The candidate's side of provider rotations: whether each turn at a rotation was answered, the longest silence inside those
/// answers and the reply after it, as distributions, and for every silence over <see cref="GapTarget"/> whether the sessions
/// that were not at a rotation heard the same silence at the same moment (a stall of the whole machine, which a rotation did
/// not cause) or not (the rotation's own). Both the raw and the stall-separated figures are reported: a stall is not defined away.
/// </summary>
public static class RotationGaps
{
    /// <summary>Issue #13: no audio gap above this at a rotation.</summary>
    public static readonly TimeSpan GapTarget = TimeSpan.FromMilliseconds(300);

    /// <summary>How far around a rotation's silence the other sessions' silences are looked at: the clocks of two callbacks, and a stall's edges.</summary>
    public static readonly TimeSpan Around = TimeSpan.FromSeconds(1);

    /// <summary>The slowest rotations listed one by one, whatever their silence.</summary>
    public const int Listed = 20;

    public static RotationFigures Measure(IReadOnlyList<SessionHeard> sessions, IReadOnlyList<(DateTimeOffset From, DateTimeOffset To)> chaos,
        DateTimeOffset runStartUtc, IReadOnlyList<WindowSample> timeline, TimeSpan aroundChaos, TimeSpan slowReply)
    {
        int planned = 0, expired = 0, nearChaos = 0, slowReplies = 0;
        var unansweredAt = new HashSet<(string, long)>(); // one utterance can sit next to two rotations: count it once
        var unansweredNearChaos = new HashSet<(string, long)>();
        var atRotation = new HashSet<(int Session, long AnswerStart)>(); // the answers next to any rotation, chaos or not: not a baseline
        var measured = new List<(int Session, long AtTicks, AnswerRecord? Gap, string? Side, double? ReplyMs)>();
        var allGaps = new List<double>();
        var allReplies = new List<double>();
        for (var si = 0; si < sessions.Count; si++)
        {
            var session = sessions[si];
            // Every utterance of the session in order, with its answer (null: the agent never answered it).
            var utterances = session.Answers.Select(a => (End: a.UtteranceEndUtcTicks, Answer: (AnswerRecord?)a))
                .Concat(session.Unanswered.Select(u => (End: u, Answer: (AnswerRecord?)null))).OrderBy(u => u.End).ToArray();
            foreach (var a in session.Answers)
            {
                allGaps.Add(a.MaxGapMs);
                allReplies.Add(a.ReplyMs);
            }
            foreach (var (at, isExpired) in session.Rotations)
            {
                if (isExpired) expired++;
                else planned++;
                // The turns at a rotation: the last utterance that ended before it (the one it waited for) and the first after it.
                var after = Array.FindIndex(utterances, u => u.End > at);
                var turns = new List<((long End, AnswerRecord? Answer) Utterance, string Side)>(2);
                if (after < 0 && utterances.Length > 0) turns.Add((utterances[^1], "before"));
                else if (after >= 0)
                {
                    if (after > 0) turns.Add((utterances[after - 1], "before"));
                    turns.Add((utterances[after], "after"));
                }
                foreach (var (u, _) in turns)
                    if (u.Answer is { } a) atRotation.Add((si, a.StartUtcTicks));
                var missed = turns.Where(t => t.Utterance.Answer is null).Select(t => (session.SessionId, t.Utterance.End)).ToArray();
                // A rotation inside a chaos event's outage (or just around it) is judged with the event, not as a rotation.
                if (chaos.Any(c => at >= c.From.UtcTicks - aroundChaos.Ticks && at <= c.To.UtcTicks + aroundChaos.Ticks))
                {
                    nearChaos++;
                    unansweredNearChaos.UnionWith(missed);
                    continue;
                }
                unansweredAt.UnionWith(missed);
                AnswerRecord? widest = null;
                string? side = null;
                foreach (var (u, s) in turns)
                    if (u.Answer is { } a && (widest is null || a.MaxGapMs > widest.Value.MaxGapMs)) (widest, side) = (a, s);
                double? reply = after >= 0 && utterances[after].Answer is { } next ? next.ReplyMs : null;
                if (reply > slowReply.TotalMilliseconds) slowReplies++;
                measured.Add((si, at, widest, side, reply));
            }
        }

        // The baseline: answers of any session that were not next to a rotation, with the silences inside them.
        var others = new List<(int Session, AnswerRecord Answer)>();
        for (var si = 0; si < sessions.Count; si++)
            foreach (var a in sessions[si].Answers)
                if (!atRotation.Contains((si, a.StartUtcTicks))) others.Add((si, a));
        var silencesOf = new Dictionary<(int, long), List<Silence>>();
        for (var si = 0; si < sessions.Count; si++)
            foreach (var s in sessions[si].Silences)
            {
                if (!silencesOf.TryGetValue((si, s.AnswerStartUtcTicks), out var list)) silencesOf[(si, s.AnswerStartUtcTicks)] = list = [];
                list.Add(s);
            }

        var rows = new List<RotationGap>();
        var rawGaps = new List<double>();
        var separatedGaps = new List<double>();
        var replies = new List<double>();
        foreach (var (si, at, widest, side, reply) in measured)
        {
            if (reply is { } r) replies.Add(r);
            if (widest is not { } w) continue;
            rawGaps.Add(w.MaxGapMs);
            var (spanning, othersMax, othersMedian, othersOver) = Baseline(w, si, others, silencesOf);
            // Stall-separated: how much longer this session was silent than the median session that did not rotate and was
            // mid-answer across the same moment; with no such session the raw silence stands (nothing shows it was a stall).
            var separated = Math.Max(0, w.MaxGapMs - (othersMedian ?? 0));
            separatedGaps.Add(separated);
            rows.Add(new RotationGap(sessions[si].SessionId, Seconds(at, runStartUtc), side!, Round(w.MaxGapMs), Seconds(w.MaxGapEndUtcTicks, runStartUtc),
                reply is { } rr ? Round(rr) : null, spanning, othersMax is { } om ? Round(om) : null, othersMedian is { } md ? Round(md) : null, othersOver,
                Round(separated), SecondP99(timeline, Seconds(w.MaxGapStartUtcTicks, runStartUtc), Seconds(w.MaxGapEndUtcTicks, runStartUtc)),
                SamplerStalled(timeline, Seconds(w.MaxGapStartUtcTicks, runStartUtc), Seconds(w.MaxGapEndUtcTicks, runStartUtc))));
        }
        var target = GapTarget.TotalMilliseconds;
        var otherReplies = others.Select(o => o.Answer.ReplyMs).ToList();
        var listed = rows.Where(g => g.GapMs > target).OrderBy(g => g.AtS)
            .Concat(rows.Where(g => g.GapMs <= target).OrderByDescending(g => g.GapMs).Take(Math.Max(0, Listed - rows.Count(g => g.GapMs > target))))
            .ToArray();
        return new RotationFigures(
            planned + expired, planned, expired, nearChaos, unansweredNearChaos.Count, unansweredAt.Count, slowReplies,
            rawGaps.Count == 0 ? null : Round(rawGaps.Max()), replies.Count == 0 ? null : Round(replies.Max()),
            Median(allGaps), Median(allReplies),
            rawGaps.Count, Distribution(rawGaps), rawGaps.Count(g => g > target), Distribution(separatedGaps), separatedGaps.Count(g => g > target),
            Distribution(others.Select(o => o.Answer.MaxGapMs).ToList()), Distribution(replies), Distribution(otherReplies), listed);
    }

    /// <summary>
    /// The other answers that were playing across this answer's longest silence (a frame before it and one after, in another
    /// session, not next to a rotation), and the longest silence each had within <see cref="Around"/> of it: their largest,
    /// their median, and how many were over <see cref="GapTarget"/>. Silences under <see cref="SimulatedSession.SilenceFloor"/> count as none.
    /// </summary>
    private static (int Spanning, double? Max, double? Median, int Over) Baseline(AnswerRecord gap, int session,
        List<(int Session, AnswerRecord Answer)> others, Dictionary<(int, long), List<Silence>> silencesOf)
    {
        var from = gap.MaxGapStartUtcTicks;
        var to = gap.MaxGapEndUtcTicks;
        var heard = new List<double>();
        foreach (var (si, a) in others)
        {
            if (si == session || a.StartUtcTicks > from || a.EndUtcTicks < to) continue;
            double longest = 0;
            if (silencesOf.TryGetValue((si, a.StartUtcTicks), out var silences))
                foreach (var s in silences)
                    if (s.StartUtcTicks <= to + Around.Ticks && s.EndUtcTicks >= from - Around.Ticks) longest = Math.Max(longest, s.Ms);
            heard.Add(longest);
        }
        if (heard.Count == 0) return (0, null, null, 0);
        return (heard.Count, heard.Max(), Percentile(heard, 50), heard.Count(h => h > GapTarget.TotalMilliseconds));
    }

    /// <summary>The largest one-second audio p99 of the run's timeline over [from, to + 1 s]: what every session's audio did then.</summary>
    private static double? SecondP99(IReadOnlyList<WindowSample> timeline, double from, double to)
    {
        double? max = null;
        foreach (var w in timeline)
            if (w.T >= from && w.T <= to + 1) max = Math.Max(max ?? 0, w.P99Ms);
        return max;
    }

    /// <summary>The tester's own one-second sampler missed a tick over the silence: the tester process itself did not run (a machine-wide stall).</summary>
    private static bool SamplerStalled(IReadOnlyList<WindowSample> timeline, double from, double to)
    {
        for (var i = 1; i < timeline.Count; i++)
            if (timeline[i].T >= from && timeline[i - 1].T <= to + 1 && timeline[i].T - timeline[i - 1].T > 1.5) return true;
        return false;
    }

    private static double Seconds(long utcTicks, DateTimeOffset runStartUtc) => Math.Round((utcTicks - runStartUtc.UtcTicks) / (double)TimeSpan.TicksPerSecond, 2);

    internal static GapDistribution? Distribution(List<double> values) =>
        values.Count == 0 ? null : new(values.Count, Round(Percentile(values, 50)), Round(Percentile(values, 99)), Round(values.Max()));

    /// <summary>Nearest rank (sorts <paramref name="values"/>).</summary>
    internal static double Percentile(List<double> values, double p)
    {
        if (values.Count == 0) return double.NaN;
        values.Sort();
        return values[Math.Clamp((int)Math.Ceiling(p / 100 * values.Count) - 1, 0, values.Count - 1)];
    }

    private static double? Median(List<double> values) => values.Count == 0 ? null : Round(Percentile(values, 50));

    private static double Round(double v) => Math.Round(v, 1);
}

/// <summary>Count, median, p99 and maximum of one set of values, in ms.</summary>
public sealed record GapDistribution(int Count, double P50, double P99, double Max);

/// <summary>
/// The rotations of a run as the candidate heard them. <paramref name="MaxGapAtRotationMs"/> .. <paramref name="MedianReplyMs"/>
/// as before; then the distributions: <paramref name="GapMs"/> the longest silence in the answers next to each rotation clear of
/// chaos, <paramref name="SeparatedGapMs"/> the same less what the median non-rotating session mid-answer heard at that moment,
/// <paramref name="OtherAnswersGapMs"/> the longest silence of every answer not next to a rotation, <paramref name="ReplyMs"/>
/// the reply after each rotation and <paramref name="OtherRepliesMs"/> every other reply; <paramref name="Gaps"/> every
/// rotation over the target, then the widest others up to <see cref="RotationGaps.Listed"/>. The figures before them are in
/// <see cref="LongRunFigures"/> already (not written twice).
/// </summary>
public sealed record RotationFigures(
    [property: JsonIgnore] int Rotations, [property: JsonIgnore] int Planned, [property: JsonIgnore] int Expired, [property: JsonIgnore] int NearChaos,
    [property: JsonIgnore] int UnansweredNearChaos, [property: JsonIgnore] int UnansweredAt, [property: JsonIgnore] int SlowReplies,
    [property: JsonIgnore] double? MaxGapAtRotationMs, [property: JsonIgnore] double? MaxReplyAfterRotationMs,
    [property: JsonIgnore] double? MedianAnswerMaxGapMs, [property: JsonIgnore] double? MedianReplyMs,
    int Measured, GapDistribution? GapMs, int GapsOverTarget, GapDistribution? SeparatedGapMs, int SeparatedOverTarget,
    GapDistribution? OtherAnswersGapMs, GapDistribution? ReplyMs, GapDistribution? OtherRepliesMs, IReadOnlyList<RotationGap> Gaps);

/// <summary>
/// One rotation: when (s since the run started), the side of it whose answer had the longest silence ("before": the answer it
/// waited for; "after": the first on the new session), that silence and when it ended, the reply after the rotation; the
/// non-rotating answers playing across the same silence, the largest and median silence they heard within 1 s of it and how many
/// were over the target; the stall-separated silence; the run's one-second audio p99 then, and whether the tester's own sampler stalled.
/// </summary>
public sealed record RotationGap(string SessionId, double AtS, string Side, double GapMs, double GapEndS, double? ReplyMs,
    int OthersPlaying, double? OthersMaxMs, double? OthersMedianMs, int OthersOverTarget, double SeparatedMs, double? SecondP99Ms, bool SamplerStalled);
