using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.WebSockets;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using VoiceActors.Auth;
using VoiceActors.Gateway.Media;

namespace VoiceActors.Tests.EndToEnd;

/// <summary>
/// The real embedded-default system, exactly as <c>dotnet run --project src/Silo</c> builds it (its Program), listening with
/// Kestrel on a free port and with its Orleans ports free too, so a real browser and real WebSocket clients can reach it.
/// </summary>
public sealed class AudioSystem : WebApplicationFactory<VoiceActors.Silo.Hosting.SiloEntryPoint>
{
    private readonly int _port = FreePort.Next();
    private readonly Dictionary<string, string?> _settings;

    public AudioSystem(IDictionary<string, string?>? settings = null)
    {
        _settings = new Dictionary<string, string?>(settings ?? new Dictionary<string, string?>())
        {
            ["urls"] = $"http://127.0.0.1:{_port}",
            ["Orleans:SiloPort"] = FreePort.Next().ToString(),
            ["Orleans:GatewayPort"] = FreePort.Next().ToString(),
            ["Orleans:ClusterId"] = "e2e-" + Guid.NewGuid().ToString("N")[..8],
        };
        _settings.TryAdd("LiveKit:StandInSfu:Enabled", "false"); // the media plane starts Node processes: tests that exercise it opt in
        UseKestrel();
        StartServer();
    }

    public Uri BaseAddress => new($"http://127.0.0.1:{_port}");

    public MediaSockets Sockets => Services.GetRequiredService<MediaSockets>();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Development"); // the documented local API key
        foreach (var (key, value) in _settings) builder.UseSetting(key, value);
    }

    public HttpClient Api()
    {
        var http = new HttpClient { BaseAddress = BaseAddress };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ApiKeyStore.DevelopmentKey);
        return http;
    }

    /// <summary>Creates an interview through the public API; returns its id and the candidate's LiveKit token.</summary>
    public async Task<(string Id, string Token)> CreateInterviewAsync(string provider = "simulated")
    {
        using var http = Api();
        var response = await http.PostAsJsonAsync("/v1/interviews", new { candidateId = "cand-" + Guid.NewGuid().ToString("N")[..6], jobId = "job-1", provider });
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, body);
        using var json = JsonDocument.Parse(body);
        return (json.RootElement.GetProperty("sessionId").GetString()!, json.RootElement.GetProperty("candidateToken").GetString()!);
    }

    public async Task<JsonElement> GetInterviewAsync(string id)
    {
        using var http = Api();
        return JsonDocument.Parse(await http.GetStringAsync($"/v1/interviews/{id}")).RootElement.Clone();
    }

    /// <summary>A media socket client as the page opens it: the server's subprotocol and the token as a second one.</summary>
    public async Task<ClientWebSocket> ConnectMediaAsync(string id, string? token)
    {
        var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        socket.Options.AddSubProtocol(MediaSocketApi.SubProtocol);
        if (token is not null) socket.Options.AddSubProtocol(MediaSocketApi.TokenSubProtocolPrefix + token);
        var uri = new UriBuilder(BaseAddress) { Scheme = "ws", Path = $"/v1/interviews/{id}/media" }.Uri;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await socket.ConnectAsync(uri, timeout.Token);
        return socket;
    }

    /// <summary>Polls a condition on the running system (real sockets and timers) until it holds or 15 s pass.</summary>
    public static Task Eventually(Func<Task<bool>> condition, string what, int seconds = 15) =>
        global::VoiceActors.TestSupport.Eventually.UntilAsync(condition, TimeSpan.FromSeconds(seconds), () => $"Timed out waiting for {what}.");
}
