using StackExchange.Redis;

namespace VoiceActors.Tests.Fixtures;

/// <summary>A real redis-server on a free port, AOF on, in a temporary directory; stopped and deleted on dispose.</summary>
public sealed class RedisServer : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("va-redis-").FullName;
    private ExternalProcess? _process;

    public int Port { get; private set; }
    public string ConnectionString => $"127.0.0.1:{Port},abortConnect=false";
    public ConnectionMultiplexer Connection { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Port = FreePort.Next();
        await StartAsync();
        Connection = await ConnectionMultiplexer.ConnectAsync(ConnectionString);
    }

    private async Task StartAsync()
    {
        _process = ExternalProcess.Start("redis-server",
            ["--port", Port.ToString(), "--bind", "127.0.0.1", "--dir", _dir, "--appendonly", "yes", "--save", "", "--protected-mode", "no"]);
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            try
            {
                await using var probe = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{Port},connectTimeout=500");
                await probe.GetDatabase().PingAsync();
                return;
            }
            catch (RedisConnectionException) when (DateTime.UtcNow < deadline && !_process.HasExited)
            {
                await Task.Delay(50);
            }
            catch (RedisConnectionException e)
            {
                throw new InvalidOperationException($"redis-server did not start on {Port}: {_process.Output}", e);
            }
        }
    }

    /// <summary>Kills Redis hard and starts it again on the same port with the same AOF (a Redis restart).</summary>
    public async Task RestartAsync()
    {
        if (_process is not null) await _process.DisposeAsync();
        await StartAsync();
    }

    public async Task DisposeAsync()
    {
        if (Connection is not null) await Connection.DisposeAsync();
        if (_process is not null) await _process.DisposeAsync();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
