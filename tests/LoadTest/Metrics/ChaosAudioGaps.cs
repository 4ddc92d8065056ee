using System.Collections.Concurrent;
using System.Diagnostics;
using VoiceActors.Sessions;

namespace VoiceActors.LoadTest.Metrics;

/// <summary>
/// What the candidate hears across a chaos event (issue #14). The sessions the event moved (hosted on the killed or drained silo
/// just before it, somewhere else after it) are the interrupted ones; the sessions it did not move are the baseline, measured the
/// same way in the same run. Two figures per group:
/// <list type="bullet">
/// <item><b>Literal gap</b> (the issue's words): last provider frame before the event to the first after. The simulated agent speaks
/// about 1 s per 6 s speech/silence cycle, so this includes the conversation's own pauses: the baseline shows how much.</item>
/// <item><b>Heard gap</b>: the silence the candidate is owed audio and gets none. At the session's cut (the kill, or for a drain
/// its migration), the agent was <i>speaking</i> (an answer in progress: from its last frame before the cut to the first after),
/// <i>awaited</i> (the candidate had finished an utterance and no answer had started: from that utterance's end to the first frame
/// after the cut), or <i>quiet</i> (nothing owed: the latency of the answer to the candidate's next utterance). An answer that ended
/// just before the cut counts as speaking unless its transcript reached the client (a crash can swallow it), before or after its last
/// frame (the two are not ordered): the figure errs high.</item>
/// </list>
/// Per moved session the trace (kept for the worst) says where the time went: the old activation's last word, the resume on the
/// survivor, the provider's reconnect (all from the session's timeline), the client's re-attach, and the first frame it heard.
/// </summary>
public sealed class ChaosAudioGaps
{
    public static readonly TimeSpan SilentAfter = TimeSpan.FromSeconds(5);
    private static readonly long SpeakingSlack = Ticks(TimeSpan.FromMilliseconds(200)); // a frame every 20 ms, jittered under load
    private static readonly long AwaitedWindow = Ticks(TimeSpan.FromSeconds(3)); // an answer is due within the turn latency
    private const int WorstKept = 8;
    // A client's marks are kept only where a figure can read them: the last KeptBehind always (an event looks back to the
    // candidate's last utterance and the answer in progress: one exchange), and KeptAfter past each event (the resume, within the
    // retry budget, and the next answer). Kept whole, they grew 3–5 MB a minute, 2 of every 3 bytes the tester's heap gained.
    internal static readonly long KeptBehind = Ticks(TimeSpan.FromMinutes(2));
    internal static readonly long KeptAfter = Ticks(TimeSpan.FromMinutes(5));
    private const double NeverMs = 999_999; // JSON has no infinity: a gap that never ended, in the excess figures

    private readonly ConcurrentDictionary<string, ClientTrace> _traces = new(StringComparer.Ordinal);
    private readonly List<EventAudio> _events = [];
    private volatile (long From, long To)[] _pinned = []; // per event: the marks its figures read

    /// <summary>Called for every provider frame the client receives (on the sink's thread).</summary>
    public void OnProviderFrame(string sessionId) => Mark(sessionId, ClientMark.Frame, Stopwatch.GetTimestamp());

    /// <summary>The candidate's utterance ended at the client (the pump): an answer is owed from here.</summary>
    public void OnUtteranceEnded(string sessionId) => Mark(sessionId, ClientMark.UtteranceEnd, Stopwatch.GetTimestamp());

    /// <summary>An agent transcript reached the client.</summary>
    public void OnAgentTranscript(string sessionId) => Mark(sessionId, ClientMark.AgentTranscript, Stopwatch.GetTimestamp());

    /// <summary>The client attached its sink again after an outage.</summary>
    public void OnReattached(string sessionId) => Mark(sessionId, ClientMark.Reattached, Stopwatch.GetTimestamp());

    internal void Mark(string sessionId, ClientMark mark, long at) =>
        _traces.GetOrAdd(sessionId, static _ => new ClientTrace()).Add(at, mark, _pinned);

    internal (long At, ClientMark Mark)[] Marks(string sessionId) => _traces.TryGetValue(sessionId, out var t) ? t.Snapshot() : [];

    internal void Pin(long eventAt)
    {
        lock (_events) _pinned = [.. _pinned, (eventAt - KeptBehind, eventAt + KeptAfter)];
    }

    /// <summary>Right before the event: where each live session is.</summary>
    public async Task<EventAudio> BeforeAsync(string kind, IClusterClient client, string tenant, IReadOnlyCollection<string> sessions)
    {
        var where = await LocateAsync(client, tenant, sessions);
        var e = new EventAudio(kind, where) { At = Stopwatch.GetTimestamp(), AtUtc = DateTimeOffset.UtcNow };
        Pin(e.At);
        lock (_events) _events.Add(e);
        return e;
    }

    /// <summary>After the event has settled: which sessions moved, and from their timelines when each was cut and resumed.</summary>
    public async Task AfterAsync(EventAudio e, IClusterClient client, string tenant)
    {
        var now = await LocateAsync(client, tenant, e.SiloBefore.Keys);
        foreach (var (id, before) in e.SiloBefore)
            if (now.TryGetValue(id, out var after) && after != before) e.Moved[id] = new MoveTrace();
        await Parallel.ForEachAsync(e.Moved, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (pair, _) =>
        {
            try
            {
                var timeline = await client.GetGrain<IInterviewSessionGrain>(pair.Key).GetTimeline(tenant).WaitAsync(TimeSpan.FromSeconds(10));
                pair.Value.Read(timeline, e, e.SiloBefore[pair.Key]);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException) { } // no timeline: the trace says so
        });
    }

    private static async Task<Dictionary<string, string>> LocateAsync(IClusterClient client, string tenant, IEnumerable<string> sessions)
    {
        var result = new ConcurrentDictionary<string, string>(StringComparer.Ordinal);
        await Parallel.ForEachAsync(sessions, new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (id, _) =>
        {
            try { result[id] = (await client.GetGrain<IInterviewSessionGrain>(id).Get(tenant).WaitAsync(TimeSpan.FromSeconds(10))).Silo ?? ""; }
            catch (Exception e) when (e is not OutOfMemoryException) { } // not located: left out of the figures, not guessed
        });
        return new Dictionary<string, string>(result);
    }

    public IReadOnlyList<ChaosAudioFigures> Summarize()
    {
        var result = new List<ChaosAudioFigures>();
        lock (_events)
        {
            foreach (var e in _events)
            {
                var moved = new GroupFigures();
                var unmoved = new GroupFigures();
                var worst = new List<(double Gap, string Line)>();
                var heardOf = new Dictionary<string, HeardGap>(StringComparer.Ordinal);
                foreach (var id in e.SiloBefore.Keys)
                {
                    var marks = _traces.TryGetValue(id, out var t) ? t.Snapshot() : [];
                    var isMoved = e.Moved.TryGetValue(id, out var move);
                    var group = isMoved ? moved : unmoved;
                    group.Literal(marks, e.At);
                    // A kill cuts every session at once; a drain cuts each when it migrates (the resume on the survivor).
                    var cutFrom = move?.MigratingAt ?? e.At;
                    var cutAt = move?.ResumedAt is { } r && e.Kind == "drain-silo" ? r : e.At;
                    var heard = Heard(marks, cutFrom, cutAt);
                    heardOf[id] = heard;
                    group.Add(heard);
                    if (isMoved && heard.Gap is { } g) worst.Add((g, Describe(id, heard, move!, marks, e.At, cutAt)));
                    else if (isMoved && heard.State != HeardState.None) worst.Add((double.MaxValue, Describe(id, heard, move!, marks, e.At, cutAt)));
                }
                worst.Sort(static (a, b) => b.Gap.CompareTo(a.Gap));
                // What the event added: each gap over the unmoved sessions' median for the same state at the same moment.
                var baseline = unmoved.Medians();
                foreach (var (id, heard) in heardOf) (e.Moved.ContainsKey(id) ? moved : unmoved).AddExcess(heard, baseline);
                result.Add(new ChaosAudioFigures(e.Kind, e.SiloBefore.Count, e.Moved.Count, moved.WithAudioBefore, moved.LiteralGaps.Count,
                    Round(Percentile(moved.LiteralGaps, 0.50)), Round(Percentile(moved.LiteralGaps, 0.99)), Round(Max(moved.LiteralGaps)), moved.SilentAfter5s,
                    unmoved.LiteralFigures(), moved.HeardFigures(), unmoved.HeardFigures(), moved.ExcessFigures(), unmoved.ExcessFigures(),
                    [.. worst.Take(WorstKept).Select(w => w.Line)]));
            }
        }
        return result;
    }

    internal enum HeardState { None, Speaking, Awaited, Quiet }

    internal readonly record struct HeardGap(HeardState State, double? Gap, long OwedFrom, long? FirstFrame);

    /// <summary>What the candidate was owed at the cut and how long it waited for it (null: never came).</summary>
    internal static HeardGap Heard(IReadOnlyList<(long At, ClientMark Mark)> marks, long cutFrom, long cutAt)
    {
        long? lastFrame = null, lastUtterance = null;
        foreach (var (at, mark) in marks)
        {
            if (at > cutAt) break;
            if (mark == ClientMark.Frame) lastFrame = at;
            else if (mark == ClientMark.UtteranceEnd) lastUtterance = at;
        }
        long? FirstFrameAfter(long from) => marks.FirstOrDefault(m => m.Mark == ClientMark.Frame && m.At > from) is { Mark: ClientMark.Frame } m ? m.At : null;
        HeardGap Gap(HeardState state, long owedFrom, long after) => FirstFrameAfter(after) is { } first
            ? new HeardGap(state, Ms(first - owedFrom), owedFrom, first)
            : new HeardGap(state, null, owedFrom, null);

        var answerSinceUtterance = lastFrame is { } f && (lastUtterance is not { } u || f > u);
        // An answer whose transcript reached the client before the next one started was complete: nothing of it was cut. The
        // transcript and the frames are separate one-way calls, which Orleans does not order: the transcript (sent after the last
        // frame) often lands in the same tick as it or just before, so any after the answer's first frame closes the answer.
        var resumedAt = lastFrame is { } l ? FirstFrameAfter(Math.Max(l, cutAt)) ?? long.MaxValue : long.MaxValue;
        var answerFrom = lastUtterance is { } spoke ? FirstFrameAfter(spoke) ?? long.MaxValue : marks.FirstOrDefault(m => m.Mark == ClientMark.Frame).At;
        var complete = lastFrame is not null && marks.Any(m => m.Mark == ClientMark.AgentTranscript && m.At >= answerFrom && m.At < resumedAt);
        if (answerSinceUtterance && !complete && lastFrame >= cutFrom - SpeakingSlack) return Gap(HeardState.Speaking, lastFrame!.Value, cutAt);
        if (!answerSinceUtterance && lastUtterance is { } ended && cutAt - ended <= AwaitedWindow) return Gap(HeardState.Awaited, ended, cutAt);
        var next = marks.FirstOrDefault(m => m.Mark == ClientMark.UtteranceEnd && m.At > cutAt);
        return next.Mark == ClientMark.UtteranceEnd ? Gap(HeardState.Quiet, next.At, next.At) : new HeardGap(HeardState.None, null, 0, null);
    }

    private static string Describe(string id, HeardGap heard, MoveTrace move, IReadOnlyList<(long At, ClientMark Mark)> marks, long eventAt, long cutAt)
    {
        string Rel(long? t) => t is { } v ? $"{Ms(v - eventAt):+0;-0} ms" : "never";
        var reattached = marks.FirstOrDefault(m => m.Mark == ClientMark.Reattached && m.At > eventAt);
        return $"{id}: {heard.State.ToString().ToLowerInvariant()} at the cut, gap {(heard.Gap is { } g ? $"{g:0} ms" : "never ended")}; " +
            $"owed from {Rel(heard.OwedFrom)}, cut {Rel(cutAt)}, old silo's last event {Rel(move.LastOnOldSiloAt)} ({move.LastOnOldSiloKind ?? "?"}), " +
            $"moving {Rel(move.MovingAt)}, deactivated {Rel(move.DeactivatedAt)}, resumed {Rel(move.ResumedAt)}, provider connected {Rel(move.ProviderConnectedAt)}, " +
            $"client re-attached {Rel(reattached.Mark == ClientMark.Reattached ? reattached.At : null)}, first frame {Rel(heard.FirstFrame)} (times from the event)";
    }

    private static long Ticks(TimeSpan t) => (long)(t.TotalSeconds * Stopwatch.Frequency);

    private static double Ms(long stopwatchTicks) => stopwatchTicks * 1000.0 / Stopwatch.Frequency;

    private static double Round(double v) => Math.Round(v, 1);

    private static double Max(List<double> sorted) => sorted.Count == 0 ? 0 : sorted[^1];

    private static double Percentile(List<double> sorted, double q) =>
        sorted.Count == 0 ? 0 : sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Count) - 1, 0, sorted.Count - 1)];

    internal enum ClientMark { Frame, UtteranceEnd, AgentTranscript, Reattached }

    /// <summary>One session's client-side marks, in arrival order (Stopwatch timestamps), trimmed to what a figure can read.</summary>
    private sealed class ClientTrace
    {
        private const int TrimFloor = 4096; // ~5 minutes of one session's frames: a trim is rare and amortized
        private readonly List<(long At, ClientMark Mark)> _marks = [];
        private int _trimAt = TrimFloor;

        public void Add(long at, ClientMark mark, (long From, long To)[] pinned)
        {
            lock (_marks)
            {
                _marks.Add((at, mark));
                if (_marks.Count < _trimAt) return;
                var before = at - KeptBehind;
                _marks.RemoveAll(m => m.At < before && !Array.Exists(pinned, w => m.At >= w.From && m.At <= w.To));
                _trimAt = _marks.Count + TrimFloor; // not a multiple: an event's pinned window would let the rest double before the next trim
            }
        }

        public (long At, ClientMark Mark)[] Snapshot()
        {
            lock (_marks)
            {
                var copy = _marks.ToArray();
                Array.Sort(copy, static (a, b) => a.At.CompareTo(b.At));
                return copy;
            }
        }
    }

    /// <summary>From the session's timeline: when the old silo last wrote about it, when it resumed and reconnected its provider.</summary>
    public sealed class MoveTrace
    {
        public long? MigratingAt { get; private set; }
        public long? LastOnOldSiloAt { get; private set; }
        public string? LastOnOldSiloKind { get; private set; }
        public long? ResumedAt { get; private set; }
        public long? ProviderConnectedAt { get; private set; }
        public long? MovingAt { get; private set; } // the relocation found its turn boundary
        public long? DeactivatedAt { get; private set; } // the old activation's media stopped; from here to the resume is the runtime's handover

        public void Read(IReadOnlyList<TimelineEvent> timeline, EventAudio e, string oldSilo)
        {
            foreach (var t in timeline)
            {
                if (t.At < e.AtUtc) continue;
                var at = e.At + Ticks(t.At - e.AtUtc); // one machine, one clock: the silo's UTC maps onto the client's stopwatch
                if (t.Silo == oldSilo)
                {
                    LastOnOldSiloAt = at;
                    LastOnOldSiloKind = t.Kind;
                    if (t.Kind == TimelineKinds.Migrating) MigratingAt ??= at;
                    else if (t.Kind == "silo.moving") MovingAt ??= at; // the grain's own kinds (InterviewSessionGrain.MovingKind, DeactivatedKind)
                    else if (t.Kind == "silo.deactivated") DeactivatedAt ??= at;
                }
                else if (t.Kind == TimelineKinds.Resumed) ResumedAt ??= at;
                else if (t.Kind == TimelineKinds.ProviderConnected && ResumedAt is not null) ProviderConnectedAt ??= at;
            }
        }
    }

    /// <summary>Accumulates one group's gaps (the moved sessions, or the baseline).</summary>
    private sealed class GroupFigures
    {
        public List<double> LiteralGaps { get; } = [];
        public int WithAudioBefore { get; private set; }
        public int SilentAfter5s { get; private set; }
        private readonly List<double> _heard = [];
        private readonly Dictionary<HeardState, List<double>> _byState = [];
        private readonly List<double> _excess = [];
        private int _speaking, _awaited, _quiet, _never;

        public void Literal(IReadOnlyList<(long At, ClientMark Mark)> marks, long eventAt)
        {
            long? last = null, first = null;
            foreach (var (at, mark) in marks)
            {
                if (mark != ClientMark.Frame) continue;
                if (at <= eventAt) last = at;
                else
                {
                    first = at;
                    break;
                }
            }
            if (last is null) return; // no provider audio before: nothing was interrupted
            WithAudioBefore++;
            if (first is null || Ms(first.Value - eventAt) > SilentAfter.TotalMilliseconds) SilentAfter5s++;
            if (first is not null) Insert(LiteralGaps, Ms(first.Value - last.Value));
        }

        public void Add(HeardGap heard)
        {
            switch (heard.State)
            {
                case HeardState.None: return;
                case HeardState.Speaking: _speaking++; break;
                case HeardState.Awaited: _awaited++; break;
                default: _quiet++; break;
            }
            if (heard.Gap is { } g)
            {
                Insert(_heard, g);
                if (!_byState.TryGetValue(heard.State, out var list)) _byState[heard.State] = list = [];
                Insert(list, g);
            }
            else _never++;
        }

        /// <summary>The median heard gap per state (speaking with no unmoved sample: one 20 ms frame, the next frame's due time).</summary>
        public Dictionary<HeardState, double> Medians()
        {
            var result = new Dictionary<HeardState, double> { [HeardState.Speaking] = 20 };
            foreach (var (state, list) in _byState) result[state] = Percentile(list, 0.50);
            return result;
        }

        /// <summary>The gap over the baseline for its state; a gap that never ended counts as <see cref="NeverMs"/> (so it is the max, and over 5 s).</summary>
        public void AddExcess(HeardGap heard, Dictionary<HeardState, double> baseline)
        {
            if (heard.State == HeardState.None) return;
            var expected = baseline.TryGetValue(heard.State, out var b) ? b : 0;
            Insert(_excess, Math.Max(0, (heard.Gap ?? NeverMs) - expected));
        }

        public ExcessGapFigures ExcessFigures() => new(_excess.Count, Round(Percentile(_excess, 0.50)), Round(Percentile(_excess, 0.99)),
            Round(Max(_excess)), _excess.Count(x => x > SilentAfter.TotalMilliseconds));

        public LiteralGapFigures LiteralFigures() => new(WithAudioBefore, LiteralGaps.Count, Round(Percentile(LiteralGaps, 0.50)),
            Round(Percentile(LiteralGaps, 0.99)), Round(Max(LiteralGaps)), SilentAfter5s);

        public HeardGapFigures HeardFigures() => new(_speaking, _awaited, _quiet, _heard.Count, Round(Percentile(_heard, 0.50)),
            Round(Percentile(_heard, 0.99)), Round(Max(_heard)), _never);

        private static void Insert(List<double> sorted, double v)
        {
            var i = sorted.BinarySearch(v);
            sorted.Insert(i < 0 ? ~i : i, v);
        }
    }

    public sealed class EventAudio(string kind, Dictionary<string, string> siloBefore)
    {
        public string Kind { get; } = kind;
        public long At { get; init; }
        public DateTimeOffset AtUtc { get; init; }
        public Dictionary<string, string> SiloBefore { get; } = siloBefore;
        public ConcurrentDictionary<string, MoveTrace> Moved { get; } = new(StringComparer.Ordinal);
    }
}

/// <summary>
/// Per chaos event: sessions located before it and those it moved. The literal gap of the moved sessions (the issue's definition:
/// last provider frame before the event to the first after, p50/p99/max ms; <c>SilentAfter5s</c>: first frame more than 5 s after the
/// event, or never), the same for the unmoved sessions as the baseline, and the heard gap (see <see cref="ChaosAudioGaps"/>) of both;
/// <c>WorstMoved</c>: the traces of the moved sessions that waited longest.
/// </summary>
public sealed record ChaosAudioFigures(string Kind, int SessionsLocated, int SessionsMoved, int MovedWithAudioBefore, int GapsMeasured,
    double GapP50Ms, double GapP99Ms, double GapMaxMs, int SilentAfter5s,
    LiteralGapFigures UnmovedLiteral, HeardGapFigures MovedHeard, HeardGapFigures UnmovedHeard, ExcessGapFigures MovedAdded,
    ExcessGapFigures UnmovedAdded, IReadOnlyList<string> WorstMoved);

/// <summary>
/// The silence a group's sessions heard beyond what the unmoved ones heard in the same state at the same moment (their median):
/// the part of the gap the event added. For the unmoved group it is the baseline's own spread (contention, the conversation).
/// </summary>
public sealed record ExcessGapFigures(int Sessions, double P50Ms, double P99Ms, double MaxMs, int Over5s);

/// <summary>The issue's gap for one group: sessions with provider audio before the event, gaps measured, p50/p99/max ms, silent after 5 s.</summary>
public sealed record LiteralGapFigures(int WithAudioBefore, int Measured, double P50Ms, double P99Ms, double MaxMs, int SilentAfter5s);

/// <summary>The heard gap for one group: how many were speaking, awaited or quiet at the cut, gaps measured, p50/p99/max ms, and those never answered.</summary>
public sealed record HeardGapFigures(int Speaking, int Awaited, int Quiet, int Measured, double P50Ms, double P99Ms, double MaxMs, int NeverAnswered);
