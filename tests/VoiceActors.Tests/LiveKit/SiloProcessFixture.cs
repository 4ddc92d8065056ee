using System.Net.Http.Headers;

namespace VoiceActors.Tests.LiveKit;

/// <summary>
/// The real silo program (<see cref="SiloProcess"/>) on embedded defaults (Development) and free ports: gateway API, webhook
/// receiver and the LiveKit stand-in's Twirp routes on one HTTP address, reachable by the official Node SDK.
/// </summary>
public class SiloProcessFixture : IAsyncLifetime
{
    public const string ApiKey = "va-local-dev-key"; // the documented Development key (ApiKeyStore.DevelopmentKey)

    private SiloProcess? _silo;

    public Uri Url { get; private set; } = null!;
    public HttpClient Http { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var clusterId = "lk-" + Guid.NewGuid().ToString("N")[..8];
        var settings = new Dictionary<string, string?>
        {
            ["Orleans:ClusterId"] = clusterId,
            ["Orleans:ServiceId"] = clusterId,
            ["Logging:LogLevel:Default"] = "Information",
            // The stand-in's SFU serves livekit.url as in production; the agent stays out, so these tests' webhooks are the only participants.
            ["LiveKit:StandInSfu:Enabled"] = "true",
            ["MediaBridge:Enabled"] = "false",
        };
        foreach (var (key, value) in ExtraSettings()) settings[key] = value;
        _silo = await SiloProcess.StartAsync(settings, "livekit silo", environment: "Development");
        Url = _silo.BaseAddress;
        Http = new HttpClient { BaseAddress = Url, Timeout = TimeSpan.FromSeconds(30) };
        Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ApiKey);
    }

    public string Output => _silo?.Output ?? "";

    /// <summary>More settings for the silo program.</summary>
    protected virtual IEnumerable<KeyValuePair<string, string?>> ExtraSettings() => [];

    public async Task DisposeAsync()
    {
        Http?.Dispose();
        if (_silo is not null) await _silo.DisposeAsync();
    }
}
