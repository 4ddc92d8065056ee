using Orleans.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Orleans.Runtime.MembershipService.SiloMetadata;
using VoiceActors.Placement;

namespace VoiceActors.Regions;

public static class RegionsHosting
{
    /// <summary>Regions, capacity, region-aware placement and graceful drain for one silo.</summary>
    public static ISiloBuilder AddRegions(this ISiloBuilder silo, IConfiguration config)
    {
        var services = silo.Services;
        services.AddOptions<RegionsOptions>().Configure(o => RegionsOptions.Bind(o, config)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<RegionsOptions>, RegionsOptionsValidator>();
        services.AddValidatedOptions<RegionHealthOptions, RegionHealthOptionsValidator>(RegionHealthOptions.Section);
        services.AddValidatedOptions<DrainOptions, DrainOptionsValidator>(DrainOptions.Section);

        services.AddSingleton<RegionView>();
        services.AddSingleton<RegionProbe>();
        services.AddSingleton<RegionViewRefresher>();
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<RegionViewRefresher>());
        services.AddSingleton<SiloDrain>();
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<SiloDrain>());
        services.AddPlacementDirector<RegionalLeastLoadedPlacement, RegionalLeastLoadedPlacementDirector>();

        // The drain must finish inside the host's shutdown window, or the host would cut it short; a longer configured window stays.
        var deadline = config.GetSection(DrainOptions.Section).Get<DrainOptions>()?.Deadline ?? new DrainOptions().Deadline;
        var needed = deadline + TimeSpan.FromSeconds(15);
        services.PostConfigure<HostOptions>(o => o.ShutdownTimeout = o.ShutdownTimeout > needed ? o.ShutdownTimeout : needed);

        silo.UseSiloMetadata(new Dictionary<string, string> { [RegionalLeastLoadedPlacementDirector.RegionMetadataKey] = SiloRegion.Of(config) });
        return silo;
    }

    /// <summary>
    /// Rolling restarts with the default directory lost entries of departing silos and left duplicate sessions (measured: dozens per
    /// rolling restart of 300); the strongly consistent directory hands its ranges over instead. For real (Redis) clusters, where
    /// silos come and go; a single embedded silo has nothing to hand over.
    /// </summary>
    public static ISiloBuilder UseConsistentGrainDirectory(this ISiloBuilder silo)
    {
        // After a crash the directory holds the dead silo's grains for a lease, so a silo that is only cut off stops before they
        // re-activate elsewhere. Orleans counts the lease from the estimated failure time (declaration minus MaxProbeTimeout x
        // NumMissedProbesLimit); its default kept killed sessions down for ~23 s. Our failure detection votes a silo with an open
        // connection dead only after that whole window without a message from it (EnableConnectionLivenessCheck), so the window is
        // already the proof of silence; half a second past it covers a silo resuming just then, whose overdue membership refresh
        // tells it it is dead (a zombie's late state write still fails on the storage ETag). Was window + table refresh + 0.5 s:
        // 2.5 s after every declaration, most of #14's one-silo recovery time.
        silo.Services.AddOptions<GrainDirectoryOptions>().Configure<IOptions<ClusterMembershipOptions>>((o, membership) =>
        {
            var m = membership.Value;
            o.RangeLeaseDuration = m.MaxProbeTimeout * m.NumMissedProbesLimit + TimeSpan.FromMilliseconds(500);
        });
#pragma warning disable ORLEANSEXP003 // evaluated here: zero duplicates over repeated rolling restarts, see the README
        return silo.AddDistributedGrainDirectory();
#pragma warning restore ORLEANSEXP003
    }
}
