using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using VoiceActors.Media;

namespace VoiceActors.Providers;

/// <summary>Voice providers and the audio relay: <c>silo.AddVoiceProviders(config)</c>.</summary>
public static class ProviderHosting
{
    public const string OpenAI = "openai";
    public const string Grok = "grok";
    public const string Simulated = "simulated";
    public const string SimulatedBackup = "simulated-backup";

    public static ISiloBuilder AddVoiceProviders(this ISiloBuilder silo, IConfiguration config)
    {
        var services = silo.Services;
        services.AddValidatedOptions<ProviderFailoverOptions, ProviderFailoverOptionsValidator>(ProviderFailoverOptions.Section);
        services.AddValidatedOptions<MediaRelayOptions, MediaRelayOptionsValidator>(MediaRelayOptions.Section);

        AddRealtime(services, OpenAI, "Providers:OpenAI", RealtimeProviderOptions.OpenAIDefaults);
        AddRealtime(services, Grok, "Providers:Grok", RealtimeProviderOptions.GrokDefaults);
        AddSimulated(services, Simulated, "Providers:Simulated");
        AddSimulated(services, SimulatedBackup, "Providers:SimulatedBackup");

        services.AddSingleton<VoiceProviderRegistry>();
        services.AddSingleton<AudioRelayFactory>();
        return silo;
    }

    private static void AddRealtime(IServiceCollection services, string name, string section, Func<RealtimeProviderOptions> defaults)
    {
        services.AddOptions<RealtimeProviderOptions>(name)
            .Configure(o =>
            {
                var d = defaults();
                o.Endpoint = d.Endpoint;
                o.Model = d.Model;
                o.Voice = d.Voice;
            })
            .BindConfiguration(section)
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<RealtimeProviderOptions>, RealtimeProviderOptionsValidator>());
        services.AddSingleton<IVoiceProvider>(sp => new RealtimeVoiceProvider(name,
            sp.GetRequiredService<IOptionsMonitor<RealtimeProviderOptions>>().Get(name),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILoggerFactory>().CreateLogger<RealtimeVoiceProvider>()));
    }

    private static void AddSimulated(IServiceCollection services, string name, string section)
    {
        services.AddOptions<SimulatedProviderOptions>(name).BindConfiguration(section).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SimulatedProviderOptions>, SimulatedProviderOptionsValidator>());
        services.AddSingleton<IVoiceProvider>(sp => new SimulatedVoiceProvider(name,
            sp.GetRequiredService<IOptionsMonitor<SimulatedProviderOptions>>().Get(name),
            sp.GetRequiredService<TimeProvider>()));
    }
}
