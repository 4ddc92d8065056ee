using VoiceActors.LoadTest.Cli;
using VoiceActors.LoadTest.Load;
using VoiceActors.LoadTest.Metrics;

namespace VoiceActors.Tests.LoadTesting;

public sealed class LoadToolTests
{
    [Fact]
    public void Histogram_percentiles_are_within_two_percent_of_the_exact_ones()
    {
        var random = new Random(11);
        var values = new long[20_000];
        var h = new LatencyHistogram();
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = (long)Math.Exp(random.NextDouble() * 13); // 1 µs .. ~0.4 s, log-uniform
            h.RecordMicros(values[i]);
        }
        Array.Sort(values);
        foreach (var p in new[] { 50.0, 95, 99, 99.9 })
        {
            var exact = values[(int)Math.Ceiling(p / 100 * values.Length) - 1] / 1000.0;
            Assert.InRange(h.PercentileMilliseconds(p), exact * 0.98 - 0.001, exact * 1.02 + 0.001);
        }
        Assert.Equal(values[^1] / 1000.0, h.MaxMilliseconds);
    }

    [Fact]
    public void Histogram_buckets_cover_every_value_once_in_order()
    {
        var last = -1;
        for (long v = 0; v < 1 << 20; v += 1 + v / 97)
        {
            var i = LatencyHistogram.Index(v);
            Assert.True(i >= last);
            var (low, width) = LatencyHistogram.Bounds(i);
            Assert.InRange(v, low, low + width - 1);
            last = i;
        }
    }

    [Fact]
    public void Ramp_profile_rises_from_ten_percent_holds_then_falls_to_zero()
    {
        var o = new LoadOptions { Sessions = 1000, Ramp = TimeSpan.FromSeconds(10), Duration = TimeSpan.FromSeconds(20) };

        Assert.Equal(100, o.TargetAt(TimeSpan.Zero));
        Assert.Equal(550, o.TargetAt(TimeSpan.FromSeconds(5)));
        Assert.Equal(1000, o.TargetAt(TimeSpan.FromSeconds(10)));
        Assert.Equal(1000, o.TargetAt(TimeSpan.FromSeconds(29.9)));
        Assert.Equal(500, o.TargetAt(TimeSpan.FromSeconds(35)));
        Assert.Equal(0, o.TargetAt(TimeSpan.FromSeconds(40)));
        Assert.Equal(TimeSpan.FromSeconds(40), o.TotalTime);
    }

    [Fact]
    public void Without_a_ramp_every_session_runs_for_the_whole_duration()
    {
        var o = new LoadOptions { Sessions = 50, Duration = TimeSpan.FromSeconds(10) };

        Assert.Equal(50, o.TargetAt(TimeSpan.Zero));
        Assert.Equal(50, o.TargetAt(TimeSpan.FromSeconds(9.99)));
        Assert.Equal(0, o.TargetAt(TimeSpan.FromSeconds(10)));
    }

    [Theory]
    [InlineData("30s", 30)]
    [InlineData("2m", 120)]
    [InlineData("500ms", 0.5)]
    [InlineData("1.5h", 5400)]
    [InlineData("90", 90)]
    [InlineData("00:01:30", 90)]
    public void Durations_parse_as_people_type_them(string text, double seconds)
    {
        Assert.True(DurationParser.TryParse(text, out var value));
        Assert.Equal(TimeSpan.FromSeconds(seconds), value);
    }

    [Theory]
    [InlineData("soon")]
    [InlineData("-5s")]
    [InlineData("")]
    public void Nonsense_durations_are_refused(string text) => Assert.False(DurationParser.TryParse(text, out _));

    [Fact]
    public void Chaos_that_needs_silo_processes_says_so()
    {
        var errors = new LoadOptions { SiloProcesses = 1, DrainSiloAt = TimeSpan.FromSeconds(5) }.Validate();
        Assert.Contains(errors, e => e.Contains("--drain-silo-at needs at least 2 silo processes", StringComparison.Ordinal));
        // A kill of the only silo is a soak's crash: the tester starts a replacement process, so it is valid.
        Assert.Empty(new LoadOptions { SiloProcesses = 1, KillSiloAt = TimeSpan.FromSeconds(5) }.Validate());

        errors = new LoadOptions { Redis = "127.0.0.1:6379", RestartRedisAt = TimeSpan.FromSeconds(5) }.Validate();
        Assert.Contains(errors, e => e.Contains("--restart-redis-at", StringComparison.Ordinal));

        errors = new LoadOptions { KillSiloAt = TimeSpan.FromSeconds(500) }.Validate();
        Assert.Contains(errors, e => e.Contains("must fall inside the run", StringComparison.Ordinal));
    }
}
