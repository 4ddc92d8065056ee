using StackExchange.Redis;

namespace VoiceActors.TestSupport;

/// <summary>
/// A real redis-server on a free port, AOF on, in a temporary directory; restartable with its data; stopped and deleted on
/// dispose. Not sealed: the tests' xunit fixture is this class plus <c>IAsyncLifetime</c>.
/// </summary>
public class RedisProcess : IAsyncDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("va-redis-").FullName;
    private ChildProcess? _process;

    public int Port { get; } = FreePort.Next();
    public string ConnectionString => $"127.0.0.1:{Port},abortConnect=false";
    public ConnectionMultiplexer Connection { get; private set; } = null!;

    public static async Task<RedisProcess> StartAsync(CancellationToken ct = default)
    {
        var redis = new RedisProcess();
        await redis.InitializeAsync(ct);
        return redis;
    }

    public Task InitializeAsync() => InitializeAsync(CancellationToken.None);

    private async Task InitializeAsync(CancellationToken ct)
    {
        await StartProcessAsync(ct);
        Connection = await ConnectionMultiplexer.ConnectAsync(ConnectionString);
    }

    private async Task StartProcessAsync(CancellationToken ct)
    {
        var process = _process = ChildProcess.Start("redis-server",
            ["--port", Port.ToString(), "--bind", "127.0.0.1", "--dir", _dir, "--appendonly", "yes", "--save", "", "--protected-mode", "no"]);
        // Not listening yet, or LOADING its AOF after a restart: both are RedisExceptions, so "not yet".
        await Eventually.UntilAsync(async () =>
        {
            if (process.HasExited) throw new InvalidOperationException($"redis-server exited on start-up on port {Port}: {process.Output}");
            await using var probe = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{Port},connectTimeout=500");
            await probe.GetDatabase().PingAsync();
            return true;
        }, TimeSpan.FromSeconds(15), () => $"redis-server did not start on port {Port}: {process.Output}", ct: ct);
    }

    /// <summary>Kills redis-server hard and starts it again on the same port with the same AOF; returns when it answers again.</summary>
    public async Task RestartAsync(CancellationToken ct = default)
    {
        if (_process is not null) await _process.DisposeAsync();
        await StartProcessAsync(ct);
    }

    public async Task DisposeAsync()
    {
        if (Connection is not null) await Connection.DisposeAsync();
        if (_process is not null) await _process.DisposeAsync();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    async ValueTask IAsyncDisposable.DisposeAsync() => await DisposeAsync();
}
