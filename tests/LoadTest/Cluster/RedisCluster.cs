using Microsoft.Extensions.Logging;

namespace VoiceActors.LoadTest.Cluster;

/// <summary>
/// A Redis-clustered fleet reached through an Orleans client. The tester may own parts of it: a redis-server it started
/// (so it can restart it) and silo processes running the real <c>src/Silo</c> binary (so it can kill or drain one and
/// measure their CPU and memory). With neither, it is a client of someone else's cluster.
/// </summary>
public sealed class RedisCluster : ClusterUnderTest
{
    /// <summary>Several silos joining at once on a busy machine: each validates connectivity with the others before it is up.</summary>
    private static readonly TimeSpan SiloStartTimeout = TimeSpan.FromSeconds(120);

    private readonly RedisProcess? _redis;
    private readonly List<SiloProcess> _silos;
    private readonly ClusterClient _client;
    private readonly IReadOnlyDictionary<string, string?> _settings;
    private readonly StackExchange.Redis.ConnectionMultiplexer? _probeConnection;
    private readonly Dictionary<int, TimeSpan> _cpu = new();
    private int _nextVictim;
    private int _replacements;

    private RedisCluster(RedisProcess? redis, List<SiloProcess> silos, ClusterClient client, IReadOnlyDictionary<string, string?> settings,
        StackExchange.Redis.ConnectionMultiplexer? probeConnection, string serviceId)
    {
        _redis = redis;
        _silos = silos;
        _client = client;
        _settings = settings;
        _probeConnection = probeConnection;
        ServiceId = serviceId;
    }

    /// <summary>The Orleans service id: the prefix of the session-log keys.</summary>
    public string ServiceId { get; }

    /// <summary>A connection of the tester's own to the silos' Redis (for its INFO counters and key sizes), when the tester started the silos.</summary>
    public StackExchange.Redis.IConnectionMultiplexer? RedisConnection => _probeConnection;

    /// <summary>The silo processes started so far (killed ones included: their process has exited).</summary>
    public IReadOnlyList<SiloProcess> SiloProcesses
    {
        get { lock (_silos) return [.. _silos]; }
    }

    public override IClusterClient Client => _client.Client;

    public override string Description => _silos.Count == 0
        ? "an existing Redis-clustered fleet (silo resources not measured)"
        : $"{_silos.Count - _replacements} silo processes (src/Silo){(_replacements > 0 ? $" and {_replacements} replacement started after the kill" : "")} on {(_redis is null ? "the given Redis" : "a redis-server started by the tester")}";

    public static async Task<RedisCluster> StartAsync(string? redisConnection, int siloProcesses, string clusterId,
        IReadOnlyDictionary<string, string?> siloSettings, CancellationToken ct)
    {
        RedisProcess? redis = null;
        var silos = new List<SiloProcess>();
        try
        {
            if (redisConnection is null)
            {
                redis = await RedisProcess.StartAsync(ct);
                redisConnection = redis.ConnectionString;
            }
            var settings = new Dictionary<string, string?>
            {
                ["ConnectionStrings:Redis"] = redisConnection,
                ["Orleans:ClusterId"] = clusterId,
                ["Orleans:ServiceId"] = clusterId,
                ["Silo:ServeGateway"] = "false",
                ["Logging:Console:FormatterName"] = "simple",
            };
            foreach (var (key, value) in siloSettings) settings[key] = value;
            var starting = Enumerable.Range(0, siloProcesses).Select(i => SiloProcess.StartAsync(settings, $"silo {i}", startTimeout: SiloStartTimeout, ct: ct)).ToArray();
            try
            {
                await Task.WhenAll(starting);
            }
            finally
            {
                foreach (var s in starting) if (s.IsCompletedSuccessfully) silos.Add(s.Result);
            }
            var client = await ClusterClient.ConnectAsync(redisConnection, clusterId, ClientTimeouts.Response, LogLevel.Error, ct);
            var probe = siloProcesses == 0 ? null : await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(redisConnection + ",allowAdmin=true"); // INFO is an admin command to the client library
            return new RedisCluster(redis, silos, client, settings, probe, clusterId);
        }
        catch
        {
            foreach (var s in silos) await s.DisposeAsync();
            if (redis is not null) await redis.DisposeAsync();
            throw;
        }
    }

    public override ResourceSample? SampleSilos() => _silos.Count == 0 ? null : Measure(Processes(), _cpu);

    private List<System.Diagnostics.Process> Processes()
    {
        lock (_silos) return [.. _silos.Select(s => s.Process)];
    }

    public override async Task KillSiloAsync()
    {
        if (AliveCount() >= 2)
        {
            Victim().KillHard();
            return;
        }
        // The only silo: a crashed machine that the platform replaces. The sessions resume on the replacement once it joins.
        var only = _silos.Last(s => !s.HasExited);
        only.KillHard();
        var replacement = await SiloProcess.StartAsync(_settings, $"silo {_silos.Count} (replacement)", startTimeout: SiloStartTimeout, ct: CancellationToken.None);
        lock (_silos) _silos.Add(replacement);
        _replacements++;
    }

    private int AliveCount()
    {
        var alive = 0;
        foreach (var s in _silos) if (!s.HasExited) alive++;
        return alive;
    }

    public override Task DrainSiloAsync()
    {
        Victim().Terminate();
        return Task.CompletedTask;
    }

    /// <summary>Silos are taken from the last one down, so the first silo (often the reminder and directory owner of most keys) goes last.</summary>
    private SiloProcess Victim()
    {
        var alive = _silos.Count - _nextVictim;
        if (alive < 2) throw new InvalidOperationException("Only one silo is left: taking it down would leave the sessions nowhere to go.");
        return _silos[_silos.Count - 1 - _nextVictim++];
    }

    public override Task RestartRedisAsync() =>
        _redis is null ? base.RestartRedisAsync() : _redis.RestartAsync(CancellationToken.None);

    public override async ValueTask DisposeAsync()
    {
        await _client.DisposeAsync();
        if (_probeConnection is not null) await _probeConnection.DisposeAsync();
        foreach (var s in _silos) await s.DisposeAsync();
        if (_redis is not null) await _redis.DisposeAsync();
    }
}
