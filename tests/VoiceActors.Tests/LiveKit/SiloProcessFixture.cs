using System.Net.Http.Headers;
using VoiceActors.Tests.Fixtures;

namespace VoiceActors.Tests.LiveKit;

/// <summary>
/// The real silo program (<c>dotnet VoiceActors.Silo.dll</c>) on embedded defaults and free ports: gateway API, webhook receiver
/// and the LiveKit stand-in's Twirp routes on one HTTP address, reachable by the official Node SDK.
/// </summary>
public class SiloProcessFixture : IAsyncLifetime
{
    public const string ApiKey = "va-local-dev-key"; // the documented Development key (ApiKeyStore.DevelopmentKey)

    private ExternalProcess? _process;

    public Uri Url { get; private set; } = null!;
    public HttpClient Http { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var port = FreePort.Next();
        Url = new Uri($"http://127.0.0.1:{port}");
        _process = ExternalProcess.Start("dotnet",
        [
            Path.Combine(AppContext.BaseDirectory, "VoiceActors.Silo.dll"), "--urls", Url.ToString().TrimEnd('/'),
            "--Orleans:SiloPort", FreePort.Next().ToString(), "--Orleans:GatewayPort", FreePort.Next().ToString(),
            "--Orleans:ClusterId", "lk-" + port, "--Orleans:ServiceId", "lk-" + port,
            .. ExtraArguments(),
        ], AppContext.BaseDirectory, new Dictionary<string, string?> { ["ASPNETCORE_ENVIRONMENT"] = "Development", ["DOTNET_ENVIRONMENT"] = "Development" });
        Http = new HttpClient { BaseAddress = Url, Timeout = TimeSpan.FromSeconds(30) };
        Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ApiKey);
        var deadline = DateTime.UtcNow.AddSeconds(60); // a real process on a shared 2-core machine: poll with a deadline
        while (true)
        {
            if (_process.HasExited) throw new InvalidOperationException("The silo exited during start-up:\n" + _process.Output);
            try
            {
                if ((await Http.GetAsync("/healthz")).IsSuccessStatusCode) return;
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline)
            {
            }
            if (DateTime.UtcNow > deadline) throw new TimeoutException("The silo did not become healthy:\n" + _process.Output);
            await Task.Delay(200);
        }
    }

    public string Output => _process?.Output ?? "";

    /// <summary>More <c>--Key value</c> settings for the silo program.</summary>
    protected virtual IEnumerable<string> ExtraArguments() => [];

    public async Task DisposeAsync()
    {
        Http?.Dispose();
        if (_process is not null) await _process.DisposeAsync();
    }
}
