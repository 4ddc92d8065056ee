using System.Net.Http;

namespace VoiceActors.Tests.Fixtures;

/// <summary>
/// A real silo process (the same VoiceActors.Silo.dll `dotnet run --project src/Silo` runs), on free ports,
/// so a test can kill it with SIGKILL like a crashed machine.
/// </summary>
public sealed class SiloProcess : IAsyncDisposable
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(2) };
    private readonly ExternalProcess _process;

    private SiloProcess(ExternalProcess process, int siloPort, int gatewayPort, int httpPort)
    {
        _process = process;
        SiloPort = siloPort;
        GatewayPort = gatewayPort;
        HttpPort = httpPort;
    }

    public int SiloPort { get; }
    public int GatewayPort { get; }
    public int HttpPort { get; }
    public Uri BaseAddress => new($"http://127.0.0.1:{HttpPort}");
    public string Output => _process.Output;
    public bool HasExited => _process.HasExited;

    /// <summary>True when <paramref name="siloAddress"/> (as a session snapshot reports it, "ip:port@generation") is this silo.</summary>
    public bool Hosts(string? siloAddress) => siloAddress is not null && siloAddress.Contains($":{SiloPort}@", StringComparison.Ordinal);

    public static async Task<SiloProcess> StartAsync(string redisConnectionString, params string[] extraSettings)
    {
        var siloPort = FreePort.Next();
        var gatewayPort = FreePort.Next();
        var httpPort = FreePort.Next();
        var dll = Path.Combine(AppContext.BaseDirectory, "VoiceActors.Silo.dll");
        string[] args =
        [
            dll,
            $"--urls=http://127.0.0.1:{httpPort}",
            $"--ConnectionStrings:Redis={redisConnectionString}",
            $"--Orleans:SiloPort={siloPort}",
            $"--Orleans:GatewayPort={gatewayPort}",
            "--Logging:LogLevel:Default=Warning",
            .. extraSettings,
        ];
        var process = ExternalProcess.Start("dotnet", args, AppContext.BaseDirectory,
            new Dictionary<string, string?> { ["ASPNETCORE_ENVIRONMENT"] = "Production", ["DOTNET_gcServer"] = "0" });
        var silo = new SiloProcess(process, siloPort, gatewayPort, httpPort);
        await silo.WaitHealthyAsync(TimeSpan.FromSeconds(60));
        return silo;
    }

    private async Task WaitHealthyAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited) throw new InvalidOperationException($"Silo exited during start-up:\n{_process.Output}");
            try
            {
                using var response = await Http.GetAsync(new Uri(BaseAddress, "/healthz"));
                if (response.IsSuccessStatusCode) return;
            }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) { }
            await Task.Delay(100);
        }
        throw new TimeoutException($"Silo did not become healthy within {timeout}:\n{_process.Output}");
    }

    public void KillHard() => _process.KillHard();

    public void Terminate() => _process.Terminate();

    public Task WaitForExitAsync(CancellationToken ct = default) => _process.WaitForExitAsync(ct);

    public ValueTask DisposeAsync() => _process.DisposeAsync();
}
