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
        silo.ConfigureFastFailureDetection();
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
        }
        else
        {
            silo.UseInMemoryReminderService();
            silo.AddMemoryGrainStorage(StorageNames.Sessions, (OptionsBuilder<MemoryGrainStorageOptions> o) =>
                o.Configure<Serializer>((o, serializer) => o.GrainStorageSerializer = SessionStateSerializer(serializer)));
            silo.AddMemoryGrainStorageAsDefault();
        }
        silo.AddPostSession(config);
        silo.AddRecordings(config);
        return silo;
    }

    /// <summary>
    /// Session state is written on every create, transition and turn: Orleans' binary serializer (the one grain calls use, tolerant
    /// by field id) costs a fraction of the default Newtonsoft JSON with type names, which was the largest single cost of a create.
    /// </summary>
    private static IGrainStorageSerializer SessionStateSerializer(Serializer serializer) => new OrleansGrainStorageSerializer(serializer);

    /// <summary>
    /// A hard-killed silo is declared dead in about two seconds instead of the default tens of seconds:
    /// one-second probes, two misses, and one vote, because probes are direct checks of the suspect.
    /// </summary>
    public static ISiloBuilder ConfigureFastFailureDetection(this ISiloBuilder silo) =>
        silo.Configure<ClusterMembershipOptions>(o =>
        {
            o.ProbeTimeout = TimeSpan.FromSeconds(1);
            o.NumMissedProbesLimit = 2;
            o.NumVotesForDeathDeclaration = 1;
            o.TableRefreshTimeout = TimeSpan.FromSeconds(2);
            o.IAmAliveTablePublishTimeout = TimeSpan.FromSeconds(5);
            o.DeathVoteExpirationTimeout = TimeSpan.FromSeconds(10);
        });
}
