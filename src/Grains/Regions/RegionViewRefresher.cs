using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using VoiceActors.Sessions;

namespace VoiceActors.Regions;

/// <summary>
/// Once per <see cref="RegionHealthOptions.ViewRefreshPeriod"/> on every silo: report this silo's load to its region's
/// <see cref="ICapacityGrain"/>, refresh the <see cref="RegionView"/>, and move out the live sessions it hosts whose region is down.
/// </summary>
public sealed partial class RegionViewRefresher(
    IGrainFactory grains,
    SiloSessionLoad load,
    ILocalSiloDetails silo,
    RegionView view,
    IOptions<RegionHealthOptions> options,
    TimeProvider clock,
    ILogger<RegionViewRefresher> logger) : ILifecycleParticipant<ISiloLifecycle>
{
    private readonly CancellationTokenSource _stopping = new();
    private readonly SemaphoreSlim _refreshing = new(1, 1);
    private Task _loop = Task.CompletedTask;
    private Task _failover = Task.CompletedTask;

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(RegionViewRefresher), ServiceLifecycleStage.Active, OnStart, OnStop);

    private Task OnStart(CancellationToken ct)
    {
        _loop = Task.Run(() => LoopAsync(_stopping.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    private async Task OnStop(CancellationToken ct)
    {
        await _stopping.CancelAsync();
        try { await _loop.WaitAsync(ct); } catch (OperationCanceledException) { }
        // Best effort: if it fails, the report expires after SiloReportExpiry as it would for a crashed silo.
        try { await grains.GetGrain<ICapacityGrain>(load.Region).Leave(silo.SiloAddress.ToParsableString()).WaitAsync(TimeSpan.FromSeconds(2), ct); }
        catch (Exception e) when (e is not OutOfMemoryException) { LogLeaveFailed(e); }
    }

    private async Task LoopAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(options.Value.ViewRefreshPeriod, clock);
        do
        {
            try { await RefreshAsync(ct); }
            catch (Exception e) when (e is not OperationCanceledException) { LogRefreshFailed(e); }
        }
        while (await WaitAsync(timer, ct));
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken ct)
    {
        try { return await timer.WaitForNextTickAsync(ct); }
        catch (OperationCanceledException) { return false; }
    }

    /// <summary>Reports, then reads the directory and every region's capacity. Also called on demand (first admission, drain start).</summary>
    public async Task RefreshAsync(CancellationToken ct)
    {
        await _refreshing.WaitAsync(ct);
        try
        {
            await ReportAsync();
            var directory = await grains.GetGrain<IRegionDirectoryGrain>(IRegionDirectoryGrain.Key).GetView();
            var capacities = new Task<RegionCapacity>[directory.Regions.Count];
            for (var i = 0; i < capacities.Length; i++) capacities[i] = grains.GetGrain<ICapacityGrain>(directory.Regions[i].Name).Get();
            view.Apply(directory, await Task.WhenAll(capacities));
        }
        finally
        {
            _refreshing.Release();
        }
        if (_failover.IsCompleted) _failover = MoveSessionsOfDownRegionsAsync();
    }

    public Task ReportAsync() => grains.GetGrain<ICapacityGrain>(load.Region).Report(new SiloLoadReport(
        silo.SiloAddress.ToParsableString(), load.Region, load.ActiveSessions, load.Capacity, load.RoomsWithoutAgent,
        view.LocalDraining, clock.GetUtcNow()));

    /// <summary>
    /// Region failover, decided on each silo for the sessions it hosts, per session by the session's own region (a silo may host
    /// sessions of a region with no serving silo of its own): no central list of sessions to keep.
    /// </summary>
    private async Task MoveSessionsOfDownRegionsAsync()
    {
        if (view.Directory is not { } directory || load.ActiveSessions == 0) return;
        foreach (var name in load.LiveSessionRegions())
        {
            if (directory.Find(name) is not { Healthy: false } region) continue;
            var target = RegionSelector.FailoverTarget(directory, view.Capacity, region.Name);
            if (target is null)
            {
                LogNoFailoverTarget(region.Name);
                continue;
            }
            var failover = new RegionFailover(region.Name, target.Name, target.LiveKitUrl, $"region {region.Name} down: {region.HealthReason}");
            var ids = load.LiveSessionIdsOf(region.Name);
            LogFailingOver(ids.Length, region.Name, target.Name);
            await Parallel.ForEachAsync(ids, new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (id, _) =>
            {
                try { await grains.GetGrain<ISessionOperationsGrain>(id).FailOver(failover); }
                catch (Exception e) { LogFailoverFailed(e, id); } // retried on the next refresh while the session is still here
            });
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Regional view refresh failed; keeping the previous view")]
    private partial void LogRefreshFailed(Exception e);

    [LoggerMessage(Level = LogLevel.Information, Message = "Could not withdraw this silo's capacity report on shutdown; it expires by itself")]
    private partial void LogLeaveFailed(Exception e);

    [LoggerMessage(Level = LogLevel.Error, Message = "Region {Region} is down and no healthy region can take its sessions")]
    private partial void LogNoFailoverTarget(string region);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Region {Region} is down: moving the {Count} live sessions of it on this silo to {Target}")]
    private partial void LogFailingOver(int count, string region, string target);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Failover of session {SessionId} failed; retrying next period")]
    private partial void LogFailoverFailed(Exception e, string sessionId);
}
