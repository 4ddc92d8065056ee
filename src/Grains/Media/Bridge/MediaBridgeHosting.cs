using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace VoiceActors.Media.Bridge;

public static class MediaBridgeHosting
{
    /// <summary>The agent's media bridge: one singleton, also the hosted service that stops its processes with the silo.</summary>
    public static IServiceCollection AddMediaBridge(this IServiceCollection services)
    {
        services.AddValidatedOptions<MediaBridgeOptions, MediaBridgeOptionsValidator>(MediaBridgeOptions.Section);
        services.TryAddSingleton(TimeProvider.System);
        services.AddMetrics();
        services.TryAddSingleton<MediaBridge>();
        services.AddHostedService(sp => sp.GetRequiredService<MediaBridge>());
        return services;
    }
}
