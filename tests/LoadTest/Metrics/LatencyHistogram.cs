using System.Numerics;

namespace VoiceActors.LoadTest.Metrics;

/// <summary>
/// A lock-free log-linear histogram of microseconds: exact below 128 µs (or below <see cref="ExactMinuteMicros"/> for one
/// built with it), then 64 buckets per power of two (under 1.6% error). Recording is one interlocked increment, so thousands
/// of sessions can record every frame without contention on a lock.
/// </summary>
public sealed class LatencyHistogram
{
    private const int DefaultExactBits = 7;
    private const int SubBits = 6;
    private const int SubBuckets = 1 << SubBits;

    /// <summary>
    /// Exact to the microsecond below 65.536 ms: what the per-minute audio p99 (~5 ms) is compared on, minute 10 against
    /// minute 60, where the default 64 µs buckets are as wide as the differences in question. 0.5 MiB per histogram.
    /// </summary>
    public const int ExactMinuteBits = 16;
    public const long ExactMinuteMicros = 1L << ExactMinuteBits;

    private readonly int _exactBits;
    private readonly long[] _counts;
    private long _count;
    private long _maxMicros;
    private long _sumMicros;

    public LatencyHistogram() : this(DefaultExactBits)
    {
    }

    /// <param name="exactBits">Every microsecond below 2^exactBits has its own bucket (7..20).</param>
    public LatencyHistogram(int exactBits)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(exactBits, DefaultExactBits);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(exactBits, 20);
        _exactBits = exactBits;
        _counts = new long[(1 << exactBits) + (63 - exactBits) * SubBuckets];
    }

    /// <summary>A histogram exact to the microsecond below <see cref="ExactMinuteMicros"/>.</summary>
    public static LatencyHistogram Exact() => new(ExactMinuteBits);

    public long Count => Volatile.Read(ref _count);

    public void RecordMilliseconds(double ms) => RecordMicros((long)(ms * 1000));

    public void RecordMicros(long micros)
    {
        if (micros < 0) micros = 0; // clocks of two processes on one machine can disagree by a few µs
        Interlocked.Increment(ref _counts[Index(micros, _exactBits)]);
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
        for (var i = 0; i < _counts.Length; i++)
        {
            seen += Volatile.Read(ref _counts[i]);
            if (seen >= rank)
            {
                var (low, width) = Bounds(i, _exactBits);
                return Math.Min(low + (width - 1) / 2.0, Volatile.Read(ref _maxMicros)) / 1000.0;
            }
        }
        return MaxMilliseconds;
    }

    /// <summary>Adds <paramref name="other"/>'s samples; both must have the same exact range (their buckets line up).</summary>
    public void Add(LatencyHistogram other)
    {
        if (other._exactBits != _exactBits) throw new ArgumentException("histograms with different exact ranges do not add up bucket by bucket", nameof(other));
        for (var i = 0; i < _counts.Length; i++)
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

    internal static int Index(long micros, int exactBits = DefaultExactBits)
    {
        var linear = 1L << exactBits;
        if (micros < linear) return (int)micros;
        var msb = 63 - BitOperations.LeadingZeroCount((ulong)micros);
        var shift = msb - SubBits;
        var sub = (int)(micros >> shift) & (SubBuckets - 1);
        return (int)linear + (msb - exactBits) * SubBuckets + sub;
    }

    internal static (long Low, long Width) Bounds(int index, int exactBits = DefaultExactBits)
    {
        var linear = 1 << exactBits;
        if (index < linear) return (index, 1);
        var k = index - linear;
        var msb = k / SubBuckets + exactBits;
        var sub = k % SubBuckets;
        var shift = msb - SubBits;
        return ((SubBuckets + (long)sub) << shift, 1L << shift);
    }
}

/// <summary>Percentiles of one histogram in milliseconds.</summary>
public sealed record LatencySummary(long Count, double P50, double P95, double P99, double Max, double Mean);
