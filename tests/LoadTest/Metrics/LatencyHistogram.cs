using System.Numerics;

namespace VoiceActors.LoadTest.Metrics;

/// <summary>
/// A lock-free log-linear histogram of microseconds: exact below 128 µs, then 64 buckets per power of two (under 1.6% error).
/// Recording is one interlocked increment, so thousands of sessions can record every frame without contention on a lock.
/// </summary>
public sealed class LatencyHistogram
{
    private const int Linear = 128;
    private const int SubBits = 6;
    private const int SubBuckets = 1 << SubBits;
    private const int Buckets = Linear + (63 - 7) * SubBuckets;

    private readonly long[] _counts = new long[Buckets];
    private long _count;
    private long _maxMicros;
    private long _sumMicros;

    public long Count => Volatile.Read(ref _count);

    public void RecordMilliseconds(double ms) => RecordMicros((long)(ms * 1000));

    public void RecordMicros(long micros)
    {
        if (micros < 0) micros = 0; // clocks of two processes on one machine can disagree by a few µs
        Interlocked.Increment(ref _counts[Index(micros)]);
        Interlocked.Increment(ref _count);
        Interlocked.Add(ref _sumMicros, micros);
        var max = Volatile.Read(ref _maxMicros);
        while (micros > max)
        {
            var seen = Interlocked.CompareExchange(ref _maxMicros, micros, max);
            if (seen == max) break;
            max = seen;
        }
    }

    public double MaxMilliseconds => Volatile.Read(ref _maxMicros) / 1000.0;

    public double MeanMilliseconds => Count == 0 ? 0 : Volatile.Read(ref _sumMicros) / 1000.0 / Count;

    /// <summary>The value at percentile <paramref name="p"/> (0–100) in milliseconds: the middle of its bucket, never above the maximum.</summary>
    public double PercentileMilliseconds(double p)
    {
        var total = Count;
        if (total == 0) return 0;
        var rank = Math.Max(1, (long)Math.Ceiling(p / 100.0 * total));
        long seen = 0;
        for (var i = 0; i < Buckets; i++)
        {
            seen += Volatile.Read(ref _counts[i]);
            if (seen >= rank)
            {
                var (low, width) = Bounds(i);
                return Math.Min(low + (width - 1) / 2.0, Volatile.Read(ref _maxMicros)) / 1000.0;
            }
        }
        return MaxMilliseconds;
    }

    public void Add(LatencyHistogram other)
    {
        for (var i = 0; i < Buckets; i++)
        {
            var c = Volatile.Read(ref other._counts[i]);
            if (c != 0) Interlocked.Add(ref _counts[i], c);
        }
        Interlocked.Add(ref _count, other.Count);
        Interlocked.Add(ref _sumMicros, Volatile.Read(ref other._sumMicros));
        var otherMax = Volatile.Read(ref other._maxMicros);
        if (otherMax > Volatile.Read(ref _maxMicros)) Interlocked.Exchange(ref _maxMicros, otherMax);
    }

    public LatencySummary Summarize() => new(
        Count, Round(PercentileMilliseconds(50)), Round(PercentileMilliseconds(95)), Round(PercentileMilliseconds(99)),
        Round(MaxMilliseconds), Round(MeanMilliseconds));

    private static double Round(double ms) => Math.Round(ms, 3);

    internal static int Index(long micros)
    {
        if (micros < Linear) return (int)micros;
        var msb = 63 - BitOperations.LeadingZeroCount((ulong)micros);
        var shift = msb - SubBits;
        var sub = (int)(micros >> shift) & (SubBuckets - 1);
        return Linear + (msb - 7) * SubBuckets + sub;
    }

    internal static (long Low, long Width) Bounds(int index)
    {
        if (index < Linear) return (index, 1);
        var k = index - Linear;
        var msb = k / SubBuckets + 7;
        var sub = k % SubBuckets;
        var shift = msb - SubBits;
        return ((SubBuckets + (long)sub) << shift, 1L << shift);
    }
}

/// <summary>Percentiles of one histogram in milliseconds.</summary>
public sealed record LatencySummary(long Count, double P50, double P95, double P99, double Max, double Mean);
