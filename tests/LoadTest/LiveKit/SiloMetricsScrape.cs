using System.Globalization;

namespace VoiceActors.LoadTest.LiveKit;

/// <summary>
/// One scrape of a silo process's <c>/metrics</c> (Prometheus text): the silo's own <c>voice_audio_latency_ms</c> histogram
/// per path and the media counters, so a run can take the difference between two scrapes (the steady state) of a silo that
/// runs in another process.
/// </summary>
public sealed class SiloMetricsScrape
{
    private readonly List<(string Name, Dictionary<string, string> Labels, double Value)> _samples = [];

    public static SiloMetricsScrape Parse(string text)
    {
        var scrape = new SiloMetricsScrape();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#') continue;
            var brace = line.IndexOf('{', StringComparison.Ordinal);
            var space = line.LastIndexOf(' ');
            if (space < 0) continue;
            string name;
            var labels = new Dictionary<string, string>(StringComparer.Ordinal);
            if (brace >= 0 && brace < space)
            {
                name = line[..brace];
                var end = line.LastIndexOf('}');
                foreach (var pair in line[(brace + 1)..end].Split(','))
                {
                    var eq = pair.IndexOf('=', StringComparison.Ordinal);
                    if (eq > 0) labels[pair[..eq]] = pair[(eq + 1)..].Trim('"');
                }
            }
            else
            {
                name = line[..space];
            }
            var value = line[(space + 1)..] switch
            {
                "+Inf" => double.PositiveInfinity,
                var v => double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : double.NaN,
            };
            scrape._samples.Add((name, labels, value));
        }
        return scrape;
    }

    /// <summary>The sum of every sample of <paramref name="name"/> whose labels include <paramref name="label"/> = <paramref name="value"/> (all samples when null).</summary>
    public double Sum(string name, string? label = null, string? value = null)
    {
        double sum = 0;
        foreach (var (n, labels, v) in _samples)
            if (n == name && (label is null || (labels.TryGetValue(label, out var l) && l == value)) && !double.IsNaN(v)) sum += v;
        return sum;
    }

    /// <summary>Every value of one label on a metric (e.g. the <c>where</c> of the drop counters).</summary>
    public IEnumerable<string> LabelValues(string name, string label) =>
        _samples.Where(s => s.Name == name && s.Labels.ContainsKey(label)).Select(s => s.Labels[label]).Distinct(StringComparer.Ordinal);

    /// <summary>Cumulative bucket counts (upper bound, count) of one histogram path, ascending.</summary>
    public SortedList<double, double> Buckets(string histogram, string path)
    {
        var result = new SortedList<double, double>();
        foreach (var (n, labels, v) in _samples)
        {
            if (n != histogram + "_bucket" || !labels.TryGetValue("path", out var p) || p != path || !labels.TryGetValue("le", out var le)) continue;
            var bound = le == "+Inf" ? double.PositiveInfinity : double.Parse(le, CultureInfo.InvariantCulture);
            result[bound] = (result.TryGetValue(bound, out var old) ? old : 0) + v;
        }
        return result;
    }

    /// <summary>
    /// Percentiles of what one histogram path recorded between <paramref name="before"/> and <paramref name="after"/>: interpolated
    /// inside the bucket the rank falls in, plus that bucket's upper bound (a value the percentile is certainly not above).
    /// </summary>
    public static BucketPercentiles Between(SiloMetricsScrape before, SiloMetricsScrape after, string histogram, string path)
    {
        var b = before.Buckets(histogram, path);
        var a = after.Buckets(histogram, path);
        var bounds = a.Keys.ToArray();
        var counts = bounds.Select(k => a[k] - (b.TryGetValue(k, out var old) ? old : 0)).ToArray();
        var total = counts.Length == 0 ? 0 : counts[^1];
        (double Value, double AtMost) At(double q)
        {
            if (total <= 0) return (0, 0);
            var rank = q * total;
            for (var i = 0; i < bounds.Length; i++)
            {
                if (counts[i] < rank) continue;
                var low = i == 0 ? 0 : bounds[i - 1];
                var below = i == 0 ? 0 : counts[i - 1];
                var high = double.IsPositiveInfinity(bounds[i]) ? low : bounds[i];
                var inBucket = counts[i] - below;
                var value = inBucket <= 0 ? high : low + (high - low) * (rank - below) / inBucket;
                return (Math.Round(value, 3), bounds[i]);
            }
            return (bounds[^1], bounds[^1]);
        }
        var p50 = At(0.50);
        var p95 = At(0.95);
        var p99 = At(0.99);
        return new BucketPercentiles((long)total, p50.Value, p95.Value, p99.Value, p99.AtMost);
    }
}

/// <param name="P99AtMost">The upper bound of the bucket holding the 99th percentile (+Inf when it is past the last bucket).</param>
public sealed record BucketPercentiles(long Count, double P50, double P95, double P99, double P99AtMost);
