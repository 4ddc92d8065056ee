using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace VoiceActors.Tests.Fixtures;

/// <summary>
/// The silo on embedded defaults (in-memory storage, localhost clustering on free ports) serving the gateway API,
/// hosted in the test process behind real Kestrel (so request limits and WebSockets behave as in production).
/// Two tenants' API keys are configured.
/// </summary>
public sealed class EmbeddedSystem : WebApplicationFactory<VoiceActors.Silo.Hosting.SiloEntryPoint>
{
    public EmbeddedSystem()
    {
        HttpPort = FreePort.Next();
        UseKestrel(HttpPort);
    }

    public int HttpPort { get; }

    public const string KeyA = "test-key-tenant-a";
    public const string KeyB = "test-key-tenant-b";

    private readonly Dictionary<string, string?> _settings = new()
    {
        ["Orleans:SiloPort"] = FreePort.Next().ToString(),
        ["Orleans:GatewayPort"] = FreePort.Next().ToString(),
        ["Orleans:ClusterId"] = $"test-{Guid.NewGuid():N}",
        ["Gateway:ApiKeys:0:Key"] = KeyA,
        ["Gateway:ApiKeys:0:Tenant"] = "tenant-a",
        ["Gateway:ApiKeys:1:Key"] = KeyB,
        ["Gateway:ApiKeys:1:Tenant"] = "tenant-b",
        ["Logging:LogLevel:Default"] = "Warning",
        ["LiveKit:StandInSfu:Enabled"] = "false", // the media plane starts Node processes: tests that exercise it opt in
    };

    public EmbeddedSystem With(string key, string? value)
    {
        _settings[key] = value;
        return this;
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        foreach (var (k, v) in _settings) builder.UseSetting(k, v);
    }

    public HttpClient ClientFor(string apiKey)
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Authorization = new("Bearer", apiKey);
        return client;
    }
}
