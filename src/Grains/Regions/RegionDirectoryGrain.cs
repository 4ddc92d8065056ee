using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using VoiceActors.Sessions;

namespace VoiceActors.Regions;

[GenerateSerializer, Alias("va.RegionOverride")]
public sealed record RegionOverride(
    [property: Id(0)] RegionHealthMode Mode,
    [property: Id(1)] string Reason,
    [property: Id(2)] DateTimeOffset At);

/// <summary>Operators' overrides survive restarts; probe results are re-measured within one probe period and are not stored.</summary>
[GenerateSerializer, Alias("va.RegionDirectoryState")]
public sealed class RegionDirectoryState
{
    [Id(0)] public Dictionary<string, RegionOverride> Overrides { get; set; } = new(StringComparer.Ordinal);
}

/// <summary>
/// The regions (from configuration) and their health: probed periodically (its LiveKit answers)
/// and overridable by operators. Silos read it once per period into their <see cref="RegionView"/>; nobody calls it per request.
/// </summary>
public sealed partial class RegionDirectoryGrain(
    [PersistentState("regions", StorageNames.Default)] IPersistentState<RegionDirectoryState> state,
    IOptions<RegionsOptions> regions,
    IOptions<RegionHealthOptions> health,
    RegionProbe probe,
    TimeProvider clock,
    ILogger<RegionDirectoryGrain> logger) : Grain, IRegionDirectoryGrain
{
    private readonly Dictionary<string, (string? Problem, DateTimeOffset At)> _probes = new(StringComparer.Ordinal);

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // Until the first probe a region counts as up: at cluster start nothing has reported yet, and refusing everything would be worse.
        this.RegisterGrainTimer(ProbeAsync, new GrainTimerCreationOptions(health.Value.ProbePeriod, health.Value.ProbePeriod) { KeepAlive = true });
        return Task.CompletedTask;
    }

    Task<RegionDirectoryView> IRegionDirectoryGrain.GetView() => Task.FromResult(View());

    async Task<RegionInfo> IRegionDirectoryGrain.SetHealth(string region, RegionHealthMode mode, string reason)
    {
        if (!regions.Value.Regions.ContainsKey(region)) throw new UnknownRegionException(region, [.. regions.Value.Regions.Keys]);
        if (!Enum.IsDefined(mode)) throw new RequestValidationException("status", $"must be up, down or auto (got {(int)mode})");
        if (reason is { Length: > 500 }) throw new RequestValidationException("reason", "must be at most 500 characters");
        var before = Info(region);
        var after = mode == RegionHealthMode.Auto ? null : new RegionOverride(mode, string.IsNullOrWhiteSpace(reason) ? "operator" : reason, clock.GetUtcNow());
        if (before.Healthy && !Healthy(region, after).Healthy && !AnyOtherHealthy(region)) throw new LastHealthyRegionException(region);

        if (after is null) state.State.Overrides.Remove(region);
        else state.State.Overrides[region] = after;
        await state.WriteStateAsync();
        var info = Info(region);
        LogHealthSet(region, mode, info.Healthy, info.HealthReason);
        return info;
    }

    /// <summary>
    /// Health is about the region's media plane (its LiveKit), not about silos: a region whose silos are all restarting or gone
    /// simply has no capacity (admission skips it), while its rooms may be fine; failing those over would cut live interviews for nothing.
    /// </summary>
    private async Task ProbeAsync(CancellationToken ct)
    {
        foreach (var (name, options) in regions.Value.Regions)
        {
            var problem = options.LiveKit.Url is { Length: > 0 } url ? await probe.ProbeLiveKitAsync(url, ct) : null;
            var wasHealthy = Info(name).Healthy;
            _probes[name] = (problem, clock.GetUtcNow());
            var now = Info(name);
            if (wasHealthy != now.Healthy) LogHealthChanged(name, now.Healthy, now.HealthReason);
        }
    }

    private RegionDirectoryView View()
    {
        var list = new List<RegionInfo>(regions.Value.Regions.Count);
        foreach (var name in regions.Value.Regions.Keys) list.Add(Info(name));
        return new RegionDirectoryView(list, clock.GetUtcNow());
    }

    private RegionInfo Info(string name)
    {
        var options = regions.Value.Regions[name];
        state.State.Overrides.TryGetValue(name, out var o);
        var (healthy, reason) = Healthy(name, o);
        DateTimeOffset? checkedAt = _probes.TryGetValue(name, out var p) ? p.At : null;
        return new RegionInfo(name, healthy, o?.Mode ?? RegionHealthMode.Auto, reason, options.Fallback, options.LiveKit.Url,
            name == regions.Value.PrimaryRegion, options.Tenants, checkedAt);
    }

    private (bool Healthy, string Reason) Healthy(string name, RegionOverride? o)
    {
        if (o is not null) return (o.Mode == RegionHealthMode.Up, $"marked {o.Mode.ToString().ToLowerInvariant()} by operator: {o.Reason}");
        if (!_probes.TryGetValue(name, out var p)) return (true, "not probed yet");
        if (p.Problem is not null) return (false, p.Problem);
        return (true, regions.Value.Regions[name].LiveKit.Url is { Length: > 0 } ? "LiveKit answers" : "in-process LiveKit stand-in");
    }

    private bool AnyOtherHealthy(string region)
    {
        foreach (var name in regions.Value.Regions.Keys)
            if (name != region && Info(name).Healthy) return true;
        return false;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Operator set region {Region} to {Mode}: healthy={Healthy} ({Reason})")]
    private partial void LogHealthSet(string region, RegionHealthMode mode, bool healthy, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Region {Region} health changed: healthy={Healthy} ({Reason})")]
    private partial void LogHealthChanged(string region, bool healthy, string reason);
}
