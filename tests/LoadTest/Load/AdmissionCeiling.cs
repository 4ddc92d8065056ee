using System.Diagnostics;
using VoiceActors.LoadTest.Metrics;
using VoiceActors.Regions;
using VoiceActors.Sessions;

namespace VoiceActors.LoadTest.Load;

/// <summary>
/// How fast the cluster opens interviews, in two closed-loop measurements over the client path the gateway uses:
/// admission decisions alone (<see cref="IRegionAdmissionGrain.Admit"/>), then whole creates through
/// <see cref="SessionAdmission.AdmitAndCreateAsync"/> (admission, regional placement, activation, watchdog reminder,
/// state writes, LiveKit room, candidate token). The sessions it opens are completed afterwards, untimed.
/// </summary>
public static class AdmissionCeiling
{
    /// <param name="cpu">CPU time the silos (and, in process, the tester) used so far: turned into CPU per operation, which contention on a shared machine does not skew as it skews rates.</param>
    public static async Task<AdmissionCeilingResult> MeasureAsync(
        IClusterClient client, string tenant, int concurrency, TimeSpan duration, Func<TimeSpan?> cpu, Action<string>? log, CancellationToken ct)
    {
        var request = new AdmissionRequest(tenant, null);
        var admitter = client.GetGrain<IRegionAdmissionGrain>(0);
        var admits = await ClosedLoopAsync(concurrency, duration, _ => admitter.Admit(request), cpu, ct);
        log?.Invoke($"admission ceiling: {admits.PerSecond:N0} admission decisions/s, {admits.CpuMicrosEach:0.#} µs CPU each ({admits.Refused:N0} refused)");

        // Capacity the admissions above only noted locally is released at the silos' next view refresh; wait for it.
        await Task.Delay(TimeSpan.FromSeconds(2), ct);

        var opened = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var creates = await ClosedLoopAsync(concurrency, duration, async _ =>
        {
            var id = SessionIds.New();
            await client.AdmitAndCreateAsync(id, request, region => new CreateSession(tenant, $"candidate-{id}", "job-ceiling",
                ProviderSettings.Default, new ConsentFlags(Recording: false, Transcription: false, AiEvaluation: false), region));
            opened.Enqueue(id);
        }, cpu, ct);
        log?.Invoke($"create ceiling: {creates.PerSecond:N0} creates/s end to end, {creates.CpuMicrosEach:0.#} µs CPU each, p50 {creates.Latency.PercentileMilliseconds(50):0.##} ms, p99 {creates.Latency.PercentileMilliseconds(99):0.##} ms ({creates.Refused:N0} refused, {creates.Failures:N0} failed)");

        // Untimed: end what was opened so it holds no capacity (and no watchdog reminders) during the sessions' run.
        await Parallel.ForEachAsync(opened, new ParallelOptions { MaxDegreeOfParallelism = 64, CancellationToken = ct }, async (id, _) =>
        {
            try { await client.GetGrain<IInterviewSessionGrain>(id).Complete(tenant, "admission ceiling measured"); }
            catch (Exception e) when (e is not OutOfMemoryException) { } // ended by its join timeout instead
        });
        return new AdmissionCeilingResult(admits, creates, concurrency);
    }

    /// <summary>Each worker awaits its call, then issues the next; a second of warm-up first, not counted.</summary>
    private static async Task<ClosedLoopResult> ClosedLoopAsync(int concurrency, TimeSpan duration, Func<int, Task> call, Func<TimeSpan?> cpu, CancellationToken ct)
    {
        var counts = new long[concurrency * 8]; // one counter per worker, a cache line apart
        long refused = 0, failures = 0;
        var latency = new LatencyHistogram();
        var measuring = 0;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var workers = new Task[concurrency];
        for (var w = 0; w < concurrency; w++)
        {
            var slot = w * 8;
            workers[w] = Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    var started = Stopwatch.GetTimestamp();
                    try
                    {
                        await call(slot);
                        if (Volatile.Read(ref measuring) == 0) continue;
                        counts[slot]++;
                        latency.RecordMicros((long)Stopwatch.GetElapsedTime(started).TotalMicroseconds);
                    }
                    catch (RegionCapacityExceededException)
                    {
                        if (Volatile.Read(ref measuring) == 1) Interlocked.Increment(ref refused); // a refusal is an answer, not a create
                    }
                    catch (Exception e) when (e is not OutOfMemoryException)
                    {
                        if (Volatile.Read(ref measuring) == 1) Interlocked.Increment(ref failures);
                    }
                }
            }, CancellationToken.None);
        }
        await Task.Delay(TimeSpan.FromSeconds(1), ct);
        Volatile.Write(ref measuring, 1);
        var startedAt = Stopwatch.GetTimestamp();
        var cpuBefore = cpu();
        await Task.Delay(duration, ct);
        Volatile.Write(ref measuring, 0);
        var elapsed = Stopwatch.GetElapsedTime(startedAt);
        var cpuUsed = cpu() - cpuBefore;
        stop.Cancel();
        await Task.WhenAll(workers);
        long total = 0;
        for (var w = 0; w < concurrency; w++) total += counts[w * 8];
        var answered = total + Interlocked.Read(ref refused);
        var cpuEach = cpuUsed is { } used && answered > 0 ? used.TotalMicroseconds / answered : 0;
        return new ClosedLoopResult(total / elapsed.TotalSeconds, total, latency, Interlocked.Read(ref refused), Interlocked.Read(ref failures), elapsed.TotalSeconds, cpuEach);
    }
}

/// <param name="CpuMicrosEach">CPU time of the measured processes per answered call (0 when not measurable).</param>
public sealed record ClosedLoopResult(double PerSecond, long Count, LatencyHistogram Latency, long Refused, long Failures, double Seconds, double CpuMicrosEach);

public sealed record AdmissionCeilingResult(ClosedLoopResult Admissions, ClosedLoopResult Creates, int Concurrency);
