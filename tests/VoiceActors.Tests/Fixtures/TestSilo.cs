using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Time.Testing;
using Orleans.Reminders;
using Orleans.Streams;
using Orleans.TestingHost;
using VoiceActors.Silo.Hosting;

namespace VoiceActors.Tests.Fixtures;

/// <summary>
/// An in-process Orleans cluster configured exactly as the silo configures itself (<see cref="SiloHosting.AddVoiceActorsGrains"/>),
/// with a fake clock and optional extra settings (e.g. <c>ConnectionStrings:Redis</c> for real Redis storage).
/// The grains read the fake clock (the unkeyed TimeProvider); the runtime's own machinery (membership, messaging, directory,
/// reminders, stream pulling) keeps real time, so calls time out, killed silos are detected and reminders and streams tick
/// whatever the test does to its clock.
/// </summary>
public sealed class TestSilo : IAsyncDisposable
{
    private TestSilo(InProcessTestCluster cluster, FakeTimeProvider clock, IConfiguration configuration)
    {
        Cluster = cluster;
        Clock = clock;
        Configuration = configuration;
    }

    public InProcessTestCluster Cluster { get; }
    public FakeTimeProvider Clock { get; }
    public IConfiguration Configuration { get; }
    public IGrainFactory Grains => Cluster.Client;

    private static readonly string[] RuntimeClocks =
    [
        TimeProviderNames.Grains, TimeProviderNames.Membership, TimeProviderNames.Messaging, TimeProviderNames.SystemTimers,
        TimeProviderNames.ActivationManagement, TimeProviderNames.GrainDirectory, ReminderTimeProviderNames.Reminders,
        StreamingTimeProviderNames.Streaming,
    ];

    public static async Task<TestSilo> StartAsync(IDictionary<string, string?>? settings = null, int silos = 1,
        Action<IServiceCollection>? services = null)
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 25, 9, 0, 0, TimeSpan.Zero));
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["LiveKit:StandInSfu:Enabled"] = "false" }) // the media plane starts Node processes: opt in
            .AddInMemoryCollection(settings ?? new Dictionary<string, string?>()).Build();
        var builder = new InProcessTestClusterBuilder((short)silos);
        builder.ConfigureSiloHost((_, host) => host.Configuration.AddConfiguration(configuration));
        builder.ConfigureSilo((_, silo) =>
        {
            silo.Services.AddSingleton<TimeProvider>(clock);
            foreach (var runtimePart in RuntimeClocks) silo.Services.AddKeyedSingleton(runtimePart, TimeProvider.System);
            services?.Invoke(silo.Services);
            silo.AddVoiceActorsGrains(configuration);
        });
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return new TestSilo(cluster, clock, configuration);
    }

    public async ValueTask DisposeAsync()
    {
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
    }
}
