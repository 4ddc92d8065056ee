namespace VoiceActors.TestSupport;

/// <summary>
/// The one way to start a real silo process (the same VoiceActors.Silo.dll <c>dotnet run --project src/Silo</c> runs) on
/// free ports, so a test or the load tester can kill it with SIGKILL like a crashed machine or drain it with SIGTERM.
/// It is configured by command-line arguments only (<c>--Key=Value</c>, standard .NET configuration, which beat any
/// environment variable the caller's shell has), and it is ready when its <c>/healthz</c> answers: the web server starts
/// after the Orleans silo has joined its cluster.
/// </summary>
public sealed class SiloProcess : IAsyncDisposable
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(2) };
    private readonly ChildProcess _process;

    private SiloProcess(ChildProcess process, IReadOnlyDictionary<string, string?> settings, int httpPort)
    {
        _process = process;
        Settings = settings;
        SiloPort = int.Parse(settings["Orleans:SiloPort"]!);
        GatewayPort = int.Parse(settings["Orleans:GatewayPort"]!);
        HttpPort = httpPort;
    }

    public string Name => _process.Name;
    public IReadOnlyDictionary<string, string?> Settings { get; }
    public int SiloPort { get; }
    public int GatewayPort { get; }
    public int HttpPort { get; }
    public Uri BaseAddress => new($"http://127.0.0.1:{HttpPort}");
    public string Output => _process.Output;
    public bool HasExited => _process.HasExited;
    public System.Diagnostics.Process Process => _process.Process;

    /// <summary>True when <paramref name="siloAddress"/> (as a session snapshot reports it, "ip:port@generation") is this silo.</summary>
    public bool Hosts(string? siloAddress) => siloAddress is not null && siloAddress.Contains($":{SiloPort}@", StringComparison.Ordinal);

    /// <summary>A silo clustered on <paramref name="redisConnectionString"/>; <paramref name="extraArguments"/> are more <c>--Key=Value</c> settings.</summary>
    public static Task<SiloProcess> StartAsync(string redisConnectionString, params string[] extraArguments)
    {
        var settings = new Dictionary<string, string?> { ["ConnectionStrings:Redis"] = redisConnectionString };
        foreach (var argument in extraArguments)
        {
            var eq = argument.IndexOf('=', StringComparison.Ordinal);
            if (!argument.StartsWith("--", StringComparison.Ordinal) || eq < 0)
                throw new ArgumentException($"'{argument}' is not --Key=Value.", nameof(extraArguments));
            settings[argument[2..eq]] = argument[(eq + 1)..];
        }
        return StartAsync(settings);
    }

    /// <param name="settings">Configuration of the silo (key, value); these win over the starter's defaults (free ports, warnings only).</param>
    /// <param name="environment">The host environment: Production unless a test needs the Development defaults (embedded storage, dev key).</param>
    public static async Task<SiloProcess> StartAsync(IEnumerable<KeyValuePair<string, string?>> settings, string name = "silo",
        string environment = "Production", TimeSpan? startTimeout = null, CancellationToken ct = default)
    {
        var httpPort = FreePort.Next();
        var all = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase)
        {
            ["Orleans:SiloPort"] = FreePort.Next().ToString(),
            ["Orleans:GatewayPort"] = FreePort.Next().ToString(),
            ["Logging:LogLevel:Default"] = "Warning",
            ["LiveKit:StandInSfu:Enabled"] = "false", // the media plane starts Node processes: tests that exercise it opt in
        };
        foreach (var (key, value) in settings) all[key] = value;

        var dll = Path.Combine(AppContext.BaseDirectory, "VoiceActors.Silo.dll");
        if (!File.Exists(dll)) throw new InvalidOperationException($"The silo binary is missing at {dll}: reference src/Silo from this project.");
        var arguments = new List<string> { dll, $"--environment={environment}", $"--urls=http://127.0.0.1:{httpPort}" };
        foreach (var (key, value) in all) arguments.Add($"--{key}={value}");
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet"; // the host that runs us, not a silo setting
        var silo = new SiloProcess(ChildProcess.Start(dotnet, arguments, AppContext.BaseDirectory, name: name), all, httpPort);
        try
        {
            await silo.WaitHealthyAsync(startTimeout ?? TimeSpan.FromSeconds(60), ct);
            return silo;
        }
        catch
        {
            await silo.DisposeAsync();
            throw;
        }
    }

    private Task WaitHealthyAsync(TimeSpan timeout, CancellationToken ct) => Eventually.UntilAsync(async () =>
    {
        if (_process.HasExited) throw new InvalidOperationException($"{Name} exited during start-up:\n{_process.Output}");
        using var response = await Http.GetAsync(new Uri(BaseAddress, "/healthz"), ct);
        return response.IsSuccessStatusCode;
    }, timeout, () => $"{Name} did not become healthy within {timeout}:\n{_process.Output}", TimeSpan.FromMilliseconds(100), ct: ct);

    public void KillHard() => _process.KillHard();

    public void Terminate() => _process.Terminate();

    public Task WaitForExitAsync(CancellationToken ct = default) => _process.WaitForExitAsync(ct);

    public ValueTask DisposeAsync() => _process.DisposeAsync();
}
