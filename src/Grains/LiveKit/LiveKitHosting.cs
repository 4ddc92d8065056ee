using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orleans.Hosting;

namespace VoiceActors.LiveKit;

public static class LiveKitHosting
{
    /// <summary>Silo side: rooms per region, the in-process stand-in for regions without a LiveKit URL, and the webhook receiver.</summary>
    public static ISiloBuilder AddLiveKit(this ISiloBuilder silo)
    {
        silo.Services.TryAddSingleton<LiveKitStandIn>();
        silo.Services.AddLiveKitClient();
        return silo;
    }

    /// <summary>Any process that verifies LiveKit tokens and webhooks (a standalone gateway hosts no stand-in).</summary>
    public static IServiceCollection AddLiveKitClient(this IServiceCollection services)
    {
        services.AddOptions<LiveKitOptions>().BindConfiguration(LiveKitOptions.Section).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<LiveKitOptions>, LiveKitOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<LiveKitDirectory>();
        services.TryAddSingleton<LiveKitWebhookReceiver>();
        return services;
    }
}
