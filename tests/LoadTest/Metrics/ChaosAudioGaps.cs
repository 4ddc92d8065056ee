using System.Collections.Concurrent;
using System.Diagnostics;
using VoiceActors.Sessions;

namespace VoiceActors.LoadTest.Metrics;

/// <summary>
/// What the candidate hears across a chaos event (issue #14): the sessions the event moved (hosted on the killed or drained silo
/// just before it, somewhere else after it), and for each the gap in provider audio at the client, from the last provider frame
/// before the event to the first one after. Sessions with no provider frame 5 s after the event count as still silent.
/// </summary>
public sealed class ChaosAudioGaps
{
    public static readonly TimeSpan SilentAfter = TimeSpan.FromSeconds(5);

    private readonly ConcurrentDictionary<string, long> _lastFrame = new(StringComparer.Ordinal);
    private readonly List<EventAudio> _events = [];
    private volatile EventAudio[] _open = [];

    /// <summary>Called for every provider frame the client receives (on the sink's thread).</summary>
    public void OnProviderFrame(string sessionId)
    {
        var now = Stopwatch.GetTimestamp();
        _lastFrame[sessionId] = now;
        foreach (var e in _open) e.FirstAfter.TryAdd(sessionId, now);
    }

    /// <summary>Right before the event: where each live session is and when its last provider frame arrived.</summary>
    public async Task<EventAudio> BeforeAsync(string kind, IClusterClient client, string tenant, IReadOnlyCollection<string> sessions)
    {
        var where = await LocateAsync(client, tenant, sessions);
        var e = new EventAudio(kind, where);
        e.At = Stopwatch.GetTimestamp();
        foreach (var id in sessions) if (_lastFrame.TryGetValue(id, out var t)) e.LastBefore[id] = t;
        lock (_events)
        {
            _events.Add(e);
            _open = [.. _events];
        }
        return e;
    }

    /// <summary>After the event has settled: which sessions moved (the ones it interrupted).</summary>
    public async Task AfterAsync(EventAudio e, IClusterClient client, string tenant)
    {
        var now = await LocateAsync(client, tenant, e.SiloBefore.Keys);
        foreach (var (id, before) in e.SiloBefore)
            if (now.TryGetValue(id, out var after) && after != before) e.Moved.Add(id);
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
                var gaps = new List<double>();
                var silent = 0;
                var withAudioBefore = 0;
                foreach (var id in e.Moved)
                {
                    if (!e.LastBefore.TryGetValue(id, out var last)) continue; // no provider audio before: nothing was interrupted
                    withAudioBefore++;
                    if (!e.FirstAfter.TryGetValue(id, out var first))
                    {
                        silent++;
                        continue;
                    }
                    var gap = (first - last) / (double)Stopwatch.Frequency;
                    gaps.Add(gap * 1000);
                    if ((first - e.At) / (double)Stopwatch.Frequency > SilentAfter.TotalSeconds) silent++;
                }
                gaps.Sort();
                result.Add(new ChaosAudioFigures(e.Kind, e.SiloBefore.Count, e.Moved.Count, withAudioBefore, gaps.Count,
                    Round(Percentile(gaps, 0.50)), Round(Percentile(gaps, 0.99)), Round(gaps.Count == 0 ? 0 : gaps[^1]), silent));
            }
        }
        return result;
    }

    private static double Round(double v) => Math.Round(v, 1);

    private static double Percentile(List<double> sorted, double q) =>
        sorted.Count == 0 ? 0 : sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Count) - 1, 0, sorted.Count - 1)];

    public sealed class EventAudio(string kind, Dictionary<string, string> siloBefore)
    {
        public string Kind { get; } = kind;
        public long At { get; set; }
        public Dictionary<string, string> SiloBefore { get; } = siloBefore;
        public ConcurrentDictionary<string, long> LastBefore { get; } = new(StringComparer.Ordinal);
        public ConcurrentDictionary<string, long> FirstAfter { get; } = new(StringComparer.Ordinal);
        public HashSet<string> Moved { get; } = new(StringComparer.Ordinal);
    }
}

/// <summary>
/// Per chaos event: sessions located before it, those it moved, those of them with provider audio before it, and their audio gap at
/// the client (last provider frame before the event to the first after) as p50/p99/max in ms; <c>SilentAfter5s</c>: moved sessions
/// whose first provider frame came more than 5 s after the event, or never.
/// </summary>
public sealed record ChaosAudioFigures(string Kind, int SessionsLocated, int SessionsMoved, int MovedWithAudioBefore, int GapsMeasured,
    double GapP50Ms, double GapP99Ms, double GapMaxMs, int SilentAfter5s);
