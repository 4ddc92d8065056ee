using System.Net;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Persistence;
using Orleans.Serialization;
using Orleans.Storage;
using StackExchange.Redis;
using VoiceActors.Gateway.LiveKit;
using VoiceActors.LiveKit;
using VoiceActors.Media.Bridge;
using VoiceActors.Providers;
using VoiceActors.Regions;
using VoiceActors.Sessions;

namespace VoiceActors.Silo.Hosting;

/// <summary>
/// The silo: Redis clustering, storage and reminders when <c>ConnectionStrings:Redis</c> is set;
/// otherwise embedded defaults (localhost clustering, in-memory storage and reminders).
/// </summary>
public static class SiloHosting
{
    public static bool HasRedis(this IConfiguration config) => !string.IsNullOrWhiteSpace(config.GetConnectionString("Redis"));

    public static WebApplicationBuilder AddVoiceActorsSilo(this WebApplicationBuilder builder)
    {
        var config = builder.Configuration;
        builder.UseOrleans(silo =>
        {
            silo.UseVoiceActorsClustering(config);
            silo.AddVoiceActorsGrains(config);
        });
        return builder;
    }

    public static ISiloBuilder UseVoiceActorsClustering(this ISiloBuilder silo, IConfiguration config)
    {
        var siloPort = config.GetValue("Orleans:SiloPort", 11111);
        var gatewayPort = config.GetValue("Orleans:GatewayPort", 30000);
        silo.Configure<ClusterOptions>(o =>
        {
            o.ClusterId = config["Orleans:ClusterId"] ?? "voiceactors";
            o.ServiceId = config["Orleans:ServiceId"] ?? "voiceactors";
        });
        silo.ConfigureFastFailureDetection(config);
        if (config.GetConnectionString("Redis") is { Length: > 0 } redis)
        {
            var advertised = config["Orleans:AdvertisedIP"] is { } ip ? IPAddress.Parse(ip) : IPAddress.Loopback;
            silo.ConfigureEndpoints(advertised, siloPort, gatewayPort, listenOnAnyHostAddress: config.GetValue("Orleans:ListenOnAnyHostAddress", false));
            silo.UseRedisClustering(redis);
            silo.UseConsistentGrainDirectory();
        }
        else
        {
            silo.UseLocalhostClustering(siloPort, gatewayPort);
        }
        return silo;
    }

    /// <summary>Everything the grains need, independent of clustering (tests call this on their own clusters).</summary>
    public static ISiloBuilder AddVoiceActorsGrains(this ISiloBuilder silo, IConfiguration config)
    {
        var services = silo.Services;
        services.AddValidatedOptions<InterviewSessionOptions, InterviewSessionOptionsValidator>(InterviewSessionOptions.Section);
        services.AddValidatedOptions<SiloCapacityOptions, SiloCapacityOptionsValidator>(SiloCapacityOptions.Section);
        services.AddSingleton<SiloSessionLoad>();
        if (config.GetConnectionString("Redis") is { Length: > 0 } registry)
            services.AddSingleton<ILiveSessionRegistry>(sp => ActivatorUtilities.CreateInstance<RedisLiveSessionRegistry>(sp, registry));
        else
            services.AddSingleton<ILiveSessionRegistry, NoLiveSessionRegistry>();
        services.AddSingleton<SessionFailover>();
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<SessionFailover>());
        services.AddLiveKitStandIn();
        services.TryAddSingleton<ILiveKitEventHandler, SessionWebhookRouter>(); // the stand-in delivers in process before HTTP listens
        services.AddMediaBridge();
        silo.AddVoiceProviders(config);
        services.TryAddSingleton(TimeProvider.System);
        silo.Configure<ReminderOptions>(o => o.MinimumReminderPeriod = TimeSpan.FromSeconds(1));
        silo.AddRegions(config);

        var sessions = config.GetSection(InterviewSessionOptions.Section).Get<InterviewSessionOptions>() ?? new InterviewSessionOptions();
        if (config.GetConnectionString("Redis") is { Length: > 0 } redis)
        {
            silo.UseRedisReminderService(o => o.ConfigurationOptions = ConfigurationOptions.Parse(redis));
            silo.AddRedisGrainStorage(StorageNames.Sessions, (OptionsBuilder<RedisStorageOptions> o) => o.Configure<Serializer>((o, serializer) =>
            {
                o.ConfigurationOptions = ConfigurationOptions.Parse(redis);
                o.EntryExpiry = sessions.StorageExpiry; // nothing lingers: state dies with the longest possible interview plus a buffer
                o.GrainStorageSerializer = SessionStateSerializer(serializer);
            }));
            silo.AddRedisGrainStorageAsDefault(o => o.ConfigurationOptions = ConfigurationOptions.Parse(redis));
            services.AddSingleton(sp => ActivatorUtilities.CreateInstance<RedisSessionLog>(sp, redis));
            services.AddSingleton<ISessionLog>(sp => sp.GetRequiredService<RedisSessionLog>());
            services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<RedisSessionLog>());
        }
        else
        {
            silo.UseInMemoryReminderService();
            silo.AddMemoryGrainStorage(StorageNames.Sessions, (OptionsBuilder<MemoryGrainStorageOptions> o) =>
                o.Configure<Serializer>((o, serializer) => o.GrainStorageSerializer = SessionStateSerializer(serializer)));
            silo.AddMemoryGrainStorageAsDefault();
            services.AddSingleton<ISessionLog, InMemorySessionLog>();
        }
        silo.AddPostSession(config);
        silo.AddRecordings(config, RecordingWorkerEntry.Launch);
        return silo;
    }

    /// <summary>
    /// Session state is written on every create, transition and turn: Orleans' binary serializer (the one grain calls use, tolerant
    /// by field id) costs a fraction of the default Newtonsoft JSON with type names, which was the largest single cost of a create.
    /// </summary>
    private static IGrainStorageSerializer SessionStateSerializer(Serializer serializer) => new OrleansGrainStorageSerializer(serializer);

    /// <summary>
    /// Failure detection (issue #14). A SIGKILLed silo is declared dead within about a second, also when most of the cluster dies at
    /// once, and a silo that is only paused (GC, SIGSTOP, a stalled VM) is not evicted if it speaks again within the silent window of
    /// <c>MaxProbeTimeout × NumMissedProbesLimit</c> = 4 s. Trade-off: a machine that vanishes without closing its sockets (power, network)
    /// is declared dead only after that window, and a pause longer than it evicts the silo (it restarts). README "Failure detection" has the measurements. <c>Orleans:Membership:*</c> overrides
    /// any of these (<see cref="ClusterMembershipOptions"/> property names), for experiments and unusual networks.
    /// </summary>
    public static ISiloBuilder ConfigureFastFailureDetection(this ISiloBuilder silo, IConfiguration? config = null)
    {
        silo.Configure<ClusterMembershipOptions>(o =>
        {
            o.ProbeTimeout = TimeSpan.FromSeconds(1); // the adaptive timeout's floor is half of it: a probe every 0.5-1 s on a healthy network
            // One failed probe is conclusive only without a sign of life: a refused connection (the process is gone), or, with a connection
            // open, no message on it for the silent window MaxProbeTimeout x NumMissedProbesLimit = 4 s (see EnableConnectionLivenessCheck).
            o.MaxProbeTimeout = TimeSpan.FromSeconds(4);
            o.NumMissedProbesLimit = 1;
            // The 15 s of #14: after a failed direct probe Orleans probes through a random other silo; with two of three dead the only one
            // is the other dead silo, whose failure is "unknown" and counts nothing, until its IAmAlive goes stale (3 x 5 s). Direct only.
            o.EnableIndirectProbes = false;
            o.NumVotesForDeathDeclaration = 1; // when a majority dies no second vote can come; one direct observer decides
            // What keeps a paused (GC, SIGSTOP) or slow silo in: no vote while any connection from it carried a message within the window.
            o.EnableConnectionLivenessCheck = true;
            o.TableRefreshTimeout = TimeSpan.FromSeconds(2);
            o.IAmAliveTablePublishTimeout = TimeSpan.FromSeconds(5);
            o.DeathVoteExpirationTimeout = TimeSpan.FromSeconds(10);
        });
        if (config is not null) silo.Services.Configure<ClusterMembershipOptions>(config.GetSection("Orleans:Membership"));
        return silo;
    }
}
