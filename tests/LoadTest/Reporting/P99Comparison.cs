using VoiceActors.LoadTest.Metrics;

namespace VoiceActors.LoadTest.Reporting;

/// <summary>One minute of the run's audio-path latency samples (both directions), exact to the microsecond (<see cref="LatencyHistogram.Exact"/>).</summary>
public sealed record MinuteLatency(int Minute, LatencyHistogram Histogram)
{
    public LatencySummary Latency { get; } = Histogram.Summarize();
}

/// <summary>The p99 of one block of minutes (<paramref name="Clear"/>: no minute of it is the first or touches a chaos outage).</summary>
public sealed record WindowP99(int FromMinute, int ToMinute, double P99Ms, long Samples, bool Clear);

/// <summary>
/// Issue #13's "audio p99 at minute 60 no worse than at minute 10", with what it takes to read it: the two minutes' exact p99,
/// the 5-minute blocks ending at each, how much a clear minute's and a clear block's p99 vary over the run (the noise a
/// difference has to stand out of), and the clear minutes before the first chaos event against those after the last.
/// </summary>
public sealed record P99Comparison(
    int ReferenceMinute, int LastMinute, double? ReferenceMs, double? LastMs, double? DifferenceMs,
    int WindowMinutes, double? ReferenceWindowMs, double? LastWindowMs, double? WindowDifferenceMs,
    int ClearMinutes, double? MinuteSdMs, int ClearWindows, double? WindowSdMs,
    double? BeforeChaosMs, double? AfterChaosMs, IReadOnlyList<WindowP99> Windows)
{
    public const int BlockMinutes = 5;

    /// <param name="chaos">Each chaos outage, seconds since the run started: from the event until the audio flowed again.</param>
    public static P99Comparison Measure(IReadOnlyList<MinuteLatency> minutes, int reference, int last, IReadOnlyList<(double From, double To)> chaos)
    {
        var byMinute = minutes.Where(m => m.Minute <= last && m.Latency.Count > 0).ToDictionary(m => m.Minute);
        bool Clear(int m) => m > 1 && byMinute.ContainsKey(m) &&
            !chaos.Any(c => (m - 1) * 60.0 <= c.To + 60 && m * 60.0 >= c.From); // an outage, and the minute after the audio came back
        double? P99(IEnumerable<int> ms)
        {
            var merged = LatencyHistogram.Exact();
            foreach (var m in ms)
                if (byMinute.TryGetValue(m, out var x)) merged.Add(x.Histogram);
            return merged.Count == 0 ? null : Math.Round(merged.PercentileMilliseconds(99), 3);
        }
        double? One(int m) => byMinute.TryGetValue(m, out var x) ? x.Latency.P99 : null;

        var windows = new List<WindowP99>();
        for (var to = last; to - BlockMinutes + 1 >= 1; to -= BlockMinutes)
        {
            var span = Enumerable.Range(to - BlockMinutes + 1, BlockMinutes).ToArray();
            if (P99(span) is { } p) windows.Add(new WindowP99(span[0], to, p, span.Sum(m => byMinute.TryGetValue(m, out var x) ? x.Latency.Count : 0), span.All(Clear)));
        }
        windows.Reverse();
        var clearMinutes = byMinute.Keys.Where(Clear).Select(m => byMinute[m].Latency.P99).ToList();
        var clearWindows = windows.Where(w => w.Clear).Select(w => w.P99Ms).ToList();
        double? At(int to) => P99(Enumerable.Range(Math.Max(2, to - BlockMinutes + 1), Math.Min(BlockMinutes, to - 1))); // minute 1 holds the creates
        var (refMs, lastMs) = (One(reference), One(last));
        var (refWindow, lastWindow) = (At(reference), At(last));
        double? before = null, after = null;
        if (chaos.Count > 0)
        {
            var first = chaos.Min(c => c.From);
            var end = chaos.Max(c => c.To);
            before = P99(byMinute.Keys.Where(m => Clear(m) && m * 60.0 < first));
            after = P99(byMinute.Keys.Where(m => Clear(m) && (m - 1) * 60.0 > end));
        }
        return new P99Comparison(reference, last, refMs, lastMs, Diff(lastMs, refMs), BlockMinutes, refWindow, lastWindow, Diff(lastWindow, refWindow),
            clearMinutes.Count, Sd(clearMinutes), clearWindows.Count, Sd(clearWindows), before, after, windows);
    }

    private static double? Diff(double? a, double? b) => a is { } x && b is { } y ? Math.Round(x - y, 3) : null;

    private static double? Sd(List<double> values)
    {
        if (values.Count < 2) return null;
        var mean = values.Average();
        return Math.Round(Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1)), 3);
    }
}
