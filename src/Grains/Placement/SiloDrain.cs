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
    IOptions<RegionHealthOptions> refreshOptions,
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
        // Real time on purpose: the drain waits for real migrations between processes, which a test's fake clock cannot move.
        var started = Stopwatch.StartNew();
        var deadline = options.Value.Deadline;
        LogDrainStarted(load.ActiveSessions, deadline);
        try { await refresher.ReportAsync(); } // others stop placing here within one refresh instead of one period later
        catch (Exception e) { LogReportFailed(e); }
        if (load.ActiveSessions == 0 || !view.HasOtherServingSilo(here)) return Finish(started, [], 0);
        // Let every other silo refresh its view once, so none places (or sends back) a session here while it drains.
        await Task.Delay(2 * refreshOptions.Value.ViewRefreshPeriod, CancellationToken.None);

        var perSession = new ConcurrentBag<double>();
        var failed = 0;
        var stale = 0;
        while (started.Elapsed < deadline)
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
                var t0 = Stopwatch.GetTimestamp();
                try
                {
                    var grain = grains.GetGrain<ISessionOperationsGrain>(id);
                    if (await grain.Relocate(here, "silo draining") != here)
                    {
                        // Answered from another silo: there is no activation here (one activation per grain), so the count was stale.
                        load.Remove(id);
                        Interlocked.Increment(ref stale);
                        return;
                    }
                    // A migration happens once the activation is idle; asking again returns the new silo once it has moved.
                    while (await grain.Relocate(here, "silo draining") == here && started.Elapsed < deadline)
                        await Task.Delay(PollInterval, CancellationToken.None);
                    perSession.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                }
                catch (Exception e)
                {
                    Interlocked.Increment(ref failed);
                    LogMoveFailed(e, id);
                }
            });
            if (failed > 0) await Task.Delay(PollInterval, CancellationToken.None);
        }

        return Finish(started, perSession.ToArray(), stale);
    }

    private DrainResult Finish(Stopwatch started, double[] times, int stale)
    {
        Array.Sort(times);
        var result = new DrainResult(times.Length, load.ActiveSessions, started.Elapsed, Percentile(times, 0.50), Percentile(times, 0.99),
            times.Length == 0 ? 0 : times[^1], stale);
        Last = result;
        LogDrainFinished(result.Migrated, result.Remaining, result.Elapsed.TotalMilliseconds, result.P50Ms, result.P99Ms, result.MaxMs, result.Stale);
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Drain finished: migrated={Migrated} remaining={Remaining} elapsed_ms={ElapsedMs:0} p50_ms={P50Ms:0.0} p99_ms={P99Ms:0.0} max_ms={MaxMs:0.0} stale={Stale}")]
    private partial void LogDrainFinished(int migrated, int remaining, double elapsedMs, double p50Ms, double p99Ms, double maxMs, int stale);
}

/// <summary><see cref="Stale"/>: ids the local count still held whose session was already active elsewhere (dropped from the count, not migrated).</summary>
public sealed record DrainResult(int Migrated, int Remaining, TimeSpan Elapsed, double P50Ms, double P99Ms, double MaxMs, int Stale);
