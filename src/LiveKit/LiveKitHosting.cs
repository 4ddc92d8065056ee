using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace VoiceActors.LiveKit;

public static class LiveKitHosting
{
    /// <summary>A host that serves regions without a LiveKit URL itself: the in-process stand-in, plus the client side.</summary>
    public static IServiceCollection AddLiveKitStandIn(this IServiceCollection services)
    {
        services.TryAddSingleton<LiveKitStandIn>();
        services.AddOptions<StandInSfuOptions>().BindConfiguration(StandInSfuOptions.Section).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<StandInSfuOptions>, StandInSfuOptionsValidator>());
        services.TryAddSingleton<StandInSfu>();
        services.AddHostedService(sp => sp.GetRequiredService<StandInSfu>()); // the media plane: clients join with audio
        return services.AddLiveKitClient();
    }

    /// <summary>Any process that creates rooms, mints tokens or verifies webhooks; verified events go to the host's <see cref="ILiveKitEventHandler"/>.</summary>
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
