using StackExchange.Redis;

namespace VoiceActors.LoadTest.Cluster;

/// <summary>A redis-server the tester owns: free port, AOF on in a temporary directory, restartable with its data.</summary>
internal sealed class RedisProcess : IAsyncDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("va-loadtest-redis-").FullName;
    private ChildProcess? _process;

    public int Port { get; } = FreePort.Next();
    public string ConnectionString => $"127.0.0.1:{Port},abortConnect=false";

    public static async Task<RedisProcess> StartAsync(CancellationToken ct)
    {
        var redis = new RedisProcess();
        await redis.StartProcessAsync(ct);
        return redis;
    }

    private async Task StartProcessAsync(CancellationToken ct)
    {
        _process = ChildProcess.Start("redis-server", "redis-server",
            ["--port", Port.ToString(), "--bind", "127.0.0.1", "--dir", _dir, "--appendonly", "yes", "--save", "", "--protected-mode", "no"]);
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            try
            {
                await using var probe = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{Port},connectTimeout=500");
                await probe.GetDatabase().PingAsync();
                return;
            }
            catch (RedisException) when (DateTime.UtcNow < deadline && !_process.HasExited)
            {
                await Task.Delay(50, ct); // not listening yet, or LOADING its AOF after a restart
            }
            catch (RedisException e)
            {
                throw new InvalidOperationException($"redis-server did not start on port {Port}: {_process.Output}", e);
            }
        }
    }

    /// <summary>Kills redis-server hard and starts it again on the same port with the same AOF; returns when it answers again.</summary>
    public async Task RestartAsync(CancellationToken ct)
    {
        if (_process is not null) await _process.DisposeAsync();
        await StartProcessAsync(ct);
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is not null) await _process.DisposeAsync();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
