using System.Diagnostics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using VoiceActors.Silo.Hosting;

namespace VoiceActors.LoadTest.Cluster;

/// <summary>
/// One silo hosted in this process exactly as <c>src/Silo</c> configures it (<see cref="SiloHosting"/>), and a separate
/// Orleans client that reaches it over its gateway port, so every call pays the real serialization and TCP path.
/// </summary>
public sealed class InProcessCluster : ClusterUnderTest
{
    private readonly IHost _silo;
    private readonly ClusterClient _client;
    private readonly Dictionary<int, TimeSpan> _cpu = new();

    private InProcessCluster(IHost silo, ClusterClient client)
    {
        _silo = silo;
        _client = client;
    }

    public override IClusterClient Client => _client.Client;

    public override string Description => "1 silo in the tester's process (silo, client and tester share the process figures)";

    public static async Task<InProcessCluster> StartAsync(IReadOnlyDictionary<string, string?> siloSettings, CancellationToken ct)
    {
        var siloPort = FreePort.Next();
        var gatewayPort = FreePort.Next();
        // The grain transport drives audio through the grain itself: no stand-in SFU, so no agent joins a room and no bridge
        // process starts for the simulated candidates (--silo-setting LiveKit:StandInSfu:Enabled=true brings them back).
        var settings = new Dictionary<string, string?> { ["LiveKit:StandInSfu:Enabled"] = "false" };
        foreach (var (key, value) in siloSettings) settings[key] = value;
        settings["Orleans:SiloPort"] = siloPort.ToString();
        settings["Orleans:GatewayPort"] = gatewayPort.ToString();
        settings["Orleans:ClusterId"] = "loadtest";
        settings["Orleans:ServiceId"] = "loadtest";
        var siloBuilder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        siloBuilder.Configuration.AddInMemoryCollection(settings);
        siloBuilder.Logging.SetMinimumLevel(LogLevel.Error).AddSimpleConsole();
        var config = siloBuilder.Configuration;
        siloBuilder.UseOrleans(silo =>
        {
            silo.UseVoiceActorsClustering(config);
            silo.AddVoiceActorsGrains(config);
        });
        var siloHost = siloBuilder.Build();
        await siloHost.StartAsync(ct);

        var client = await ClusterClient.ConnectLocalAsync(gatewayPort, "loadtest", ClientTimeouts.Response, LogLevel.Error, ct);
        return new InProcessCluster(siloHost, client);
    }

    public override ResourceSample? SampleSilos() => Measure([Process.GetCurrentProcess()], _cpu);

    public override async ValueTask DisposeAsync()
    {
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await _client.DisposeAsync();
        try { await _silo.StopAsync(stop.Token); } catch (OperationCanceledException) { }
        _silo.Dispose();
    }
}

/// <summary>Client-side call timeouts: short, so a call to a dead silo fails fast and the session retries on a survivor.</summary>
public static class ClientTimeouts
{
    public static readonly TimeSpan Response = TimeSpan.FromSeconds(5);
}
