using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;

namespace VoiceActors.TestSupport;

/// <summary>
/// The one Orleans client the tests and the load tester build: of a Redis-clustered fleet (as the standalone gateway is)
/// or of one silo's gateway port on this machine.
/// </summary>
public sealed class ClusterClient : IAsyncDisposable
{
    private readonly IHost _host;

    private ClusterClient(IHost host) => _host = host;

    public IClusterClient Client => _host.Services.GetRequiredService<IClusterClient>();

    /// <param name="responseTimeout">Shorter than Orleans' 30 s default where a call to a dead silo must fail fast.</param>
    public static Task<ClusterClient> ConnectAsync(string redisConnectionString, string clusterId = "voiceactors",
        TimeSpan? responseTimeout = null, LogLevel logLevel = LogLevel.Warning, CancellationToken ct = default) =>
        ConnectAsync(c => c.UseRedisClustering(redisConnectionString), clusterId, responseTimeout, logLevel, ct);

    public static Task<ClusterClient> ConnectLocalAsync(int gatewayPort, string clusterId,
        TimeSpan? responseTimeout = null, LogLevel logLevel = LogLevel.Warning, CancellationToken ct = default) =>
        ConnectAsync(c => c.UseLocalhostClustering(gatewayPort), clusterId, responseTimeout, logLevel, ct);

    private static async Task<ClusterClient> ConnectAsync(Action<IClientBuilder> clustering, string clusterId, TimeSpan? responseTimeout,
        LogLevel logLevel, CancellationToken ct)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.SetMinimumLevel(logLevel).AddSimpleConsole();
        builder.UseOrleansClient(client =>
        {
            client.Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = (clusterId, clusterId));
            clustering(client);
            client.Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = TimeSpan.FromSeconds(1));
            if (responseTimeout is { } timeout) client.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = timeout);
        });
        var host = builder.Build();
        try
        {
            await host.StartAsync(ct);
        }
        catch
        {
            host.Dispose();
            throw;
        }
        return new ClusterClient(host);
    }

    public async ValueTask DisposeAsync()
    {
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try { await _host.StopAsync(stop.Token); } catch (Exception e) when (e is OperationCanceledException or OrleansException) { }
        _host.Dispose();
    }
}
