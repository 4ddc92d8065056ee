using System.Diagnostics;
using VoiceActors.Diagnostics;

namespace VoiceActors.LoadTest.Load;

/// <summary>
/// The ceiling: trivial ping calls at full speed over the same client path the sessions use. Closed-loop workers (each
/// awaits its call, then issues the next) after a warm-up, the shape of Orleans' own Ping benchmark.
/// </summary>
public static class PingCeiling
{
    public static async Task<CeilingResult> MeasureAsync(IClusterClient client, int concurrency, TimeSpan duration, CancellationToken ct)
    {
        var warmup = TimeSpan.FromSeconds(1);
        var counts = new long[concurrency * 8]; // one counter per worker, a cache line apart
        var measuring = 0;
        long failures = 0;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var workers = new Task[concurrency];
        for (var w = 0; w < concurrency; w++)
        {
            var slot = w * 8;
            var grain = client.GetGrain<IPingGrain>(w);
            workers[w] = Task.Run(async () =>
            {
                long i = 0;
                while (!stop.IsCancellationRequested)
                {
                    try
                    {
                        await grain.Ping(i++);
                        if (Volatile.Read(ref measuring) == 1) counts[slot]++;
                    }
                    catch (Exception e) when (e is not OutOfMemoryException)
                    {
                        Interlocked.Increment(ref failures); // a failed call does not count towards the ceiling
                    }
                }
            }, CancellationToken.None);
        }
        await Task.Delay(warmup, ct);
        Volatile.Write(ref measuring, 1);
        var started = Stopwatch.GetTimestamp();
        await Task.Delay(duration, ct);
        Volatile.Write(ref measuring, 0);
        var elapsed = Stopwatch.GetElapsedTime(started);
        stop.Cancel();
        await Task.WhenAll(workers);
        long total = 0;
        for (var w = 0; w < concurrency; w++) total += counts[w * 8];
        return new CeilingResult(total / elapsed.TotalSeconds, concurrency, elapsed.TotalSeconds, Interlocked.Read(ref failures));
    }
}

public sealed record CeilingResult(double CallsPerSecond, int Concurrency, double Seconds, long Failures);
