using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using VoiceActors.Regions;
using VoiceActors.Sessions;

namespace VoiceActors.Placement;

/// <summary>
/// Graceful drain: when the silo stops (SIGTERM → host shutdown → silo lifecycle), before anything else stops it takes no new
/// sessions and migrates every live session to another silo of its region, until none remain or <see cref="DrainOptions.Deadline"/> passes.
/// </summary>
public sealed partial class SiloDrain(
    IGrainFactory grains,
    SiloSessionLoad load,
    ILocalSiloDetails silo,
    RegionView view,
    RegionViewRefresher refresher,
    IOptions<DrainOptions> options,
    TimeProvider clock,
    ILogger<SiloDrain> logger) : ILifecycleParticipant<ISiloLifecycle>
{
    /// <summary>Above <see cref="ServiceLifecycleStage.Active"/>, so it stops first, while the view refresher and the runtime still run.</summary>
    public const int Stage = ServiceLifecycleStage.Active + 100;

    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(20);

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(SiloDrain), Stage, static _ => Task.CompletedTask, DrainAsync);

    /// <summary>The result of the last drain (for logs and benchmarks).</summary>
    public DrainResult? Last { get; private set; }

    public async Task<DrainResult> DrainAsync(CancellationToken ct)
    {
        var here = silo.SiloAddress.ToParsableString();
        view.LocalDraining = true;
        var started = clock.GetTimestamp();
        var deadline = started + (long)(options.Value.Deadline.TotalSeconds * clock.TimestampFrequency);
        LogDrainStarted(load.ActiveSessions, options.Value.Deadline);
        try { await refresher.ReportAsync(); } // others stop placing here within one refresh instead of one period later
        catch (Exception e) { LogReportFailed(e); }

        var perSession = new ConcurrentBag<double>();
        var failed = 0;
        while (clock.GetTimestamp() < deadline)
        {
            var ids = load.LiveSessionIds();
            if (ids.Length == 0) break;
            if (!view.HasOtherServingSilo(here))
            {
                LogNowhereToGo(ids.Length); // they resume from storage wherever they are next called
                break;
            }
            await Parallel.ForEachAsync(ids, new ParallelOptions { MaxDegreeOfParallelism = options.Value.Parallelism }, async (id, _) =>
            {
                var t0 = clock.GetTimestamp();
                try
                {
                    var grain = grains.GetGrain<IInterviewSessionGrain>(id);
                    // A migration happens once the activation is idle; asking again returns the new silo once it has moved.
                    while (await grain.Relocate(here, "silo draining") == here && clock.GetTimestamp() < deadline)
                        await Task.Delay(PollInterval, clock, CancellationToken.None);
                    perSession.Add(clock.GetElapsedTime(t0).TotalMilliseconds);
                }
                catch (Exception e)
                {
                    Interlocked.Increment(ref failed);
                    LogMoveFailed(e, id);
                }
            });
            if (failed > 0) await Task.Delay(PollInterval, clock, CancellationToken.None);
        }

        var times = perSession.ToArray();
        Array.Sort(times);
        var result = new DrainResult(times.Length, load.ActiveSessions, clock.GetElapsedTime(started), Percentile(times, 0.50), Percentile(times, 0.99),
            times.Length == 0 ? 0 : times[^1]);
        Last = result;
        LogDrainFinished(result.Migrated, result.Remaining, result.Elapsed.TotalMilliseconds, result.P50Ms, result.P99Ms, result.MaxMs);
        return result;
    }

    private static double Percentile(double[] sorted, double q)
    {
        if (sorted.Length == 0) return 0;
        var index = (int)Math.Ceiling(q * sorted.Length) - 1;
        return sorted[Math.Clamp(index, 0, sorted.Length - 1)];
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Drain started: {Active} live sessions to migrate, deadline {Deadline}")]
    private partial void LogDrainStarted(int active, TimeSpan deadline);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Drain could not announce itself; other silos notice at their next refresh")]
    private partial void LogReportFailed(Exception e);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Drain stops early: no other silo serves; {Count} sessions stay in storage")]
    private partial void LogNowhereToGo(int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Drain could not move session {SessionId}; retrying")]
    private partial void LogMoveFailed(Exception e, string sessionId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Drain finished: migrated={Migrated} remaining={Remaining} elapsed_ms={ElapsedMs:0} p50_ms={P50Ms:0.0} p99_ms={P99Ms:0.0} max_ms={MaxMs:0.0}")]
    private partial void LogDrainFinished(int migrated, int remaining, double elapsedMs, double p50Ms, double p99Ms, double maxMs);
}

public sealed record DrainResult(int Migrated, int Remaining, TimeSpan Elapsed, double P50Ms, double P99Ms, double MaxMs);
