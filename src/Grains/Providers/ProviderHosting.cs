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

        AddRealtime(services, OpenAI, "Providers:OpenAI", RealtimeProviderOptions.OpenAIDefaults, ProviderSessionOptions.OpenAIDefaults);
        AddRealtime(services, Grok, "Providers:Grok", RealtimeProviderOptions.GrokDefaults, ProviderSessionOptions.GrokDefaults);
        AddSimulated(services, Simulated, "Providers:Simulated");
        AddSimulated(services, SimulatedBackup, "Providers:SimulatedBackup");

        services.AddSingleton<VoiceProviderRegistry>();
        services.AddSingleton<AudioRelayFactory>();
        return silo;
    }

    /// <summary>A provider's session budget and replay limits (<c>&lt;section&gt;:Session</c>), named by the provider.</summary>
    private static void AddSession(IServiceCollection services, string name, string section, Func<ProviderSessionOptions>? defaults)
    {
        if (defaults is not null)
        {
            // Before the binding, so configuration overrides the documented defaults (and can unset a budget).
            services.AddOptions<ProviderSessionOptions>(name).Configure(o =>
            {
                var d = defaults();
                o.Budget = d.Budget;
            });
        }
        services.AddValidatedOptions<ProviderSessionOptions, ProviderSessionOptionsValidator>($"{section}:Session", name);
    }

    private static ProviderSessionOptions Session(IServiceProvider sp, string name) =>
        sp.GetRequiredService<IOptionsMonitor<ProviderSessionOptions>>().Get(name);

    private static void AddRealtime(IServiceCollection services, string name, string section, Func<RealtimeProviderOptions> defaults,
        Func<ProviderSessionOptions> sessionDefaults)
    {
        AddSession(services, name, section, sessionDefaults);
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
            sp.GetRequiredService<ILoggerFactory>().CreateLogger<RealtimeVoiceProvider>(),
            Session(sp, name)));
    }

    private static void AddSimulated(IServiceCollection services, string name, string section)
    {
        AddSession(services, name, section, defaults: null);
        services.AddOptions<SimulatedProviderOptions>(name).BindConfiguration(section).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SimulatedProviderOptions>, SimulatedProviderOptionsValidator>());
        services.AddSingleton<IVoiceProvider>(sp => new SimulatedVoiceProvider(name,
            sp.GetRequiredService<IOptionsMonitor<SimulatedProviderOptions>>().Get(name),
            sp.GetRequiredService<TimeProvider>(),
            Session(sp, name)));
    }
}
