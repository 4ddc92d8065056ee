using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using Orleans.Runtime;

namespace VoiceActors.LoadTest.Cluster;

/// <summary>
/// A Redis-clustered fleet reached through an Orleans client. The tester may own parts of it: a redis-server it started
/// (so it can restart it) and silo processes running the real <c>src/Silo</c> binary (so it can kill or drain one and
/// measure their CPU and memory). With neither, it is a client of someone else's cluster.
/// </summary>
public sealed class RedisCluster : ClusterUnderTest
{
    private readonly RedisProcess? _redis;
    private readonly List<ChildProcess> _silos;
    private readonly IHost _client;
    private readonly Dictionary<int, TimeSpan> _cpu = new();
    private int _nextVictim;

    private RedisCluster(RedisProcess? redis, List<ChildProcess> silos, IHost client)
    {
        _redis = redis;
        _silos = silos;
        _client = client;
        Client = client.Services.GetRequiredService<IClusterClient>();
    }

    public override IClusterClient Client { get; }

    public override string Description => _silos.Count == 0
        ? "an existing Redis-clustered fleet (silo resources not measured)"
        : $"{_silos.Count} silo processes (src/Silo) on {(_redis is null ? "the given Redis" : "a redis-server started by the tester")}";

    public static async Task<RedisCluster> StartAsync(string? redisConnection, int siloProcesses, string clusterId,
        IReadOnlyDictionary<string, string?> siloSettings, CancellationToken ct)
    {
        RedisProcess? redis = null;
        var silos = new List<ChildProcess>();
        try
        {
            if (redisConnection is null)
            {
                redis = await RedisProcess.StartAsync(ct);
                redisConnection = redis.ConnectionString;
            }
            for (var i = 0; i < siloProcesses; i++) silos.Add(StartSilo(i, redisConnection, clusterId, siloSettings));
            var client = await ConnectClientAsync(redisConnection, clusterId, silos, ct);
            if (siloProcesses > 0) await WaitForActiveSilosAsync(client.Services.GetRequiredService<IClusterClient>(), siloProcesses, silos, ct);
            return new RedisCluster(redis, silos, client);
        }
        catch
        {
            foreach (var s in silos) await s.DisposeAsync();
            if (redis is not null) await redis.DisposeAsync();
            throw;
        }
    }

    private static ChildProcess StartSilo(int index, string redis, string clusterId, IReadOnlyDictionary<string, string?> settings)
    {
        var silo = Path.Combine(AppContext.BaseDirectory, "VoiceActors.Silo.dll");
        if (!File.Exists(silo)) throw new InvalidOperationException($"The silo binary is missing at {silo}; build tests/LoadTest first.");
        var env = new Dictionary<string, string?>
        {
            ["ConnectionStrings__Redis"] = redis,
            ["Orleans__ClusterId"] = clusterId,
            ["Orleans__ServiceId"] = clusterId,
            ["Orleans__SiloPort"] = FreePort.Next().ToString(),
            ["Orleans__GatewayPort"] = FreePort.Next().ToString(),
            ["Silo__ServeGateway"] = "false",
            ["Logging__LogLevel__Default"] = "Warning",
            ["Logging__Console__FormatterName"] = "simple",
        };
        foreach (var (key, value) in settings) env[key.Replace(":", "__")] = value;
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";
        return ChildProcess.Start($"silo {index}", dotnet, [silo, "--urls", $"http://127.0.0.1:{FreePort.Next()}"], env);
    }

    /// <summary>The client can only connect once some silo has written its gateway to Redis: retry until then.</summary>
    private static async Task<IHost> ConnectClientAsync(string redis, string clusterId, List<ChildProcess> silos, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (true)
        {
            var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
            builder.Logging.SetMinimumLevel(LogLevel.Error).AddSimpleConsole();
            builder.UseOrleansClient(client =>
            {
                client.Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = (clusterId, clusterId));
                client.UseRedisClustering(redis);
                client.Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = TimeSpan.FromSeconds(2));
                client.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = ClientTimeouts.Response);
            });
            var host = builder.Build();
            try
            {
                await host.StartAsync(ct);
                return host;
            }
            catch (Exception e) when (e is not OperationCanceledException && DateTime.UtcNow < deadline)
            {
                host.Dispose();
                ThrowIfSiloDied(silos);
                await Task.Delay(500, ct);
            }
        }
    }

    private static async Task WaitForActiveSilosAsync(IClusterClient client, int expected, List<ChildProcess> silos, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow.AddSeconds(90);
        var management = client.GetGrain<IManagementGrain>(0);
        while (true)
        {
            ThrowIfSiloDied(silos);
            try
            {
                var hosts = await management.GetHosts(onlyActive: true);
                if (hosts.Count >= expected) return;
            }
            catch (Exception e) when (e is not OperationCanceledException && DateTime.UtcNow < deadline) { }
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Only some of the {expected} silos became active within 90 s.");
            await Task.Delay(250, ct);
        }
    }

    private static void ThrowIfSiloDied(List<ChildProcess> silos)
    {
        foreach (var s in silos)
            if (s.HasExited) throw new InvalidOperationException($"{s.Name} exited during start-up:\n{s.Output}");
    }

    public override ResourceSample? SampleSilos() => _silos.Count == 0 ? null : Measure(Processes(), _cpu);

    private IEnumerable<System.Diagnostics.Process> Processes()
    {
        foreach (var s in _silos) yield return s.Process;
    }

    public override Task KillSiloAsync()
    {
        Victim().KillHard();
        return Task.CompletedTask;
    }

    public override Task DrainSiloAsync()
    {
        Victim().Terminate();
        return Task.CompletedTask;
    }

    /// <summary>Silos are taken from the last one down, so the first silo (often the reminder and directory owner of most keys) goes last.</summary>
    private ChildProcess Victim()
    {
        var alive = _silos.Count - _nextVictim;
        if (alive < 2) throw new InvalidOperationException("Only one silo is left: taking it down would leave the sessions nowhere to go.");
        return _silos[_silos.Count - 1 - _nextVictim++];
    }

    public override Task RestartRedisAsync() =>
        _redis is null ? base.RestartRedisAsync() : _redis.RestartAsync(CancellationToken.None);

    public override async ValueTask DisposeAsync()
    {
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try { await _client.StopAsync(stop.Token); } catch (Exception e) when (e is OperationCanceledException or OrleansException) { }
        _client.Dispose();
        foreach (var s in _silos) await s.DisposeAsync();
        if (_redis is not null) await _redis.DisposeAsync();
    }
}
