using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Metadata;
using Orleans.Placement;
using Orleans.Runtime.MembershipService.SiloMetadata;
using Orleans.Runtime.Placement;
using Orleans.Storage;
using VoiceActors.Regions;
using VoiceActors.Sessions;

namespace VoiceActors.Placement;

/// <summary>Place on a silo of the session's region, the one with the fewest active sessions (voice is I/O-bound: CPU says nothing).</summary>
[GenerateSerializer, Immutable, Alias("va.RegionalLeastLoadedPlacement")]
public sealed class RegionalLeastLoadedPlacement : PlacementStrategy
{
    public static RegionalLeastLoadedPlacement Instance { get; } = new();
}

[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class RegionalLeastLoadedPlacementAttribute() : PlacementAttribute(RegionalLeastLoadedPlacement.Instance);

/// <summary>
/// The region comes from the request context (<see cref="RegionContext.RegionKey"/>: set by the gateway on create and by a session
/// before it migrates: no storage read on those paths). A session activated without it (a watchdog tick or a webhook after its silo
/// died, a call that lands mid-migration) is placed by the region in its stored state; only a session with no stored state falls
/// back to the placing silo's own region. Silo regions come from silo metadata, loads from the <see cref="RegionView"/> plus what
/// this silo placed since its last refresh.
/// </summary>
public sealed partial class RegionalLeastLoadedPlacementDirector(
    ISiloMetadataCache metadata,
    RegionView view,
    SiloSessionLoad load,
    ILocalSiloDetails local,
    GrainTypeResolver grainTypes,
    [FromKeyedServices(StorageNames.Sessions)] IGrainStorage sessions,
    ILogger<RegionalLeastLoadedPlacementDirector> logger) : IPlacementDirector
{
    public const string RegionMetadataKey = "region";

    private readonly GrainType _sessionType = grainTypes.GetGrainType(typeof(InterviewSessionGrain));

    public async Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var silos = context.GetCompatibleSilos(target);
        var region = target.RequestContextData?.GetValueOrDefault(RegionContext.RegionKey) as string
                     ?? await StoredRegionAsync(target.GrainIdentity)
                     ?? load.Region;
        var avoid = target.RequestContextData?.GetValueOrDefault(RegionContext.AvoidSiloKey) as string;

        var chosen = LeastLoaded(silos, region, avoid, sameRegion: true)
                     ?? LeastLoaded(silos, region, avoid, sameRegion: false) // no serving silo in the region: anywhere beats nowhere; the session moves back when one appears
                     ?? (silos.Length > 0 ? silos[0] : local.SiloAddress);
        view.NotePlaced(chosen.ToParsableString());
        return chosen;
    }

    /// <summary>The region a session was stored with; null for another grain type or a session never stored.</summary>
    private async Task<string?> StoredRegionAsync(GrainId grain)
    {
        if (!grain.Type.Equals(_sessionType)) return null;
        try
        {
            var stored = new GrainState<InterviewSessionState>();
            await sessions.ReadStateAsync(StorageNames.SessionState, grain, stored);
            return stored.RecordExists && stored.State is { Region.Length: > 0 } s ? s.Region : null;
        }
        catch (Exception e)
        {
            // Placing by the local region still works: the session goes home by itself once activated (see OnActivateAsync).
            LogStoredRegionUnreadable(e, grain.ToString());
            return null;
        }
    }

    public string RegionOf(SiloAddress silo)
    {
        if (silo.Equals(local.SiloAddress)) return load.Region;
        if (metadata.GetSiloMetadata(silo).Metadata.TryGetValue(RegionMetadataKey, out var r)) return r;
        return view.Silo(silo.ToParsableString())?.Region ?? "";
    }

    private SiloAddress? LeastLoaded(SiloAddress[] silos, string region, string? avoid, bool sameRegion)
    {
        SiloAddress? best = null;
        var bestHasRoom = false;
        var bestLoad = int.MaxValue;
        foreach (var silo in silos)
        {
            var name = silo.ToParsableString();
            if (name == avoid || IsDraining(silo, name)) continue;
            if (sameRegion != (RegionOf(silo) == region)) continue;
            var (active, capacity) = LoadOf(silo, name);
            var hasRoom = active < capacity;
            // A silo with room beats a full one; among equals the fewest active sessions wins; ties keep the first (stable order).
            if (best is null || (hasRoom && !bestHasRoom) || (hasRoom == bestHasRoom && active < bestLoad))
            {
                best = silo;
                bestHasRoom = hasRoom;
                bestLoad = active;
            }
        }
        return best;
    }

    private bool IsDraining(SiloAddress silo, string name) =>
        silo.Equals(local.SiloAddress) ? view.LocalDraining : view.Silo(name)?.Draining == true;

    private (int Active, int Capacity) LoadOf(SiloAddress silo, string name)
    {
        var placed = view.PlacedSinceRefresh(name);
        if (silo.Equals(local.SiloAddress)) return (load.ActiveSessions + placed, load.Capacity);
        // A silo that has not reported yet (just joined) is empty: the least-loaded rule fills it first.
        return view.Silo(name) is { } r ? (r.ActiveSessions + placed, r.Capacity) : (placed, int.MaxValue);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not read the stored region of {Grain}; placing it by this silo's region")]
    private partial void LogStoredRegionUnreadable(Exception e, string grain);
}
