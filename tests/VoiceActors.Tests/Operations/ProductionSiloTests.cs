using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;

namespace VoiceActors.Tests.Operations;

/// <summary>
/// A real silo process as it runs in production (Production environment, Redis clustering, API keys): JSON logs whose
/// session lines carry the session's ids and never a key, the dashboard behind the API keys, and <c>/metrics</c> open
/// to the scraper.
/// </summary>
public sealed class ProductionSiloTests : IAsyncLifetime
{
    private const string ApiKey = "prod-like-key-5f1c9a7e";
    private const string Tenant = "tenant-logs";

    private readonly RedisServer _redis = new();
    private SiloProcess _silo = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        await _redis.InitializeAsync();
        _silo = await SiloProcess.StartAsync(_redis.ConnectionString,
            "--Silo:ServeGateway=true",
            $"--Gateway:ApiKeys:0:Key={ApiKey}",
            $"--Gateway:ApiKeys:0:Tenant={Tenant}",
            "--Logging:LogLevel:Default=Information",
            "--Logging:LogLevel:VoiceActors=Debug",
            "--Logging:LogLevel:Microsoft.AspNetCore.Routing.EndpointMiddleware=Information");
        _http = new HttpClient { BaseAddress = _silo.BaseAddress, Timeout = TimeSpan.FromSeconds(10) };
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _silo.DisposeAsync();
        await _redis.DisposeAsync();
    }

    private HttpRequestMessage Request(HttpMethod method, string path, AuthenticationHeaderValue? auth = null, object? body = null)
    {
        var request = new HttpRequestMessage(method, path) { Headers = { Authorization = auth } };
        if (body is not null) request.Content = JsonContent.Create(body);
        return request;
    }

    [Fact]
    public async Task Session_log_lines_are_json_carry_session_and_tenant_ids_and_never_a_key()
    {
        var bearer = new AuthenticationHeaderValue("Bearer", ApiKey);
        var created = await _http.SendAsync(Request(HttpMethod.Post, "/v1/interviews", bearer, new { candidateId = "cand-logs", jobId = "job-logs" }));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var body = await created.Content.ReadFromJsonAsync<JsonElement>();
        var id = body.GetProperty("sessionId").GetString()!;
        var secrets = new List<string> { ApiKey };
        if (body.TryGetProperty("candidateToken", out var token) && token.GetString() is { Length: > 0 } t) secrets.Add(t);

        Assert.Equal(HttpStatusCode.OK, (await _http.SendAsync(Request(HttpMethod.Get, $"/v1/interviews/{id}/timeline", bearer))).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await _http.SendAsync(Request(HttpMethod.Post, $"/v1/interviews/{id}/complete", bearer))).StatusCode);

        // The console logger writes on its own thread: wait (bounded) for the session's last line.
        var lines = await WaitForLinesAsync(all =>
            all.Any(l => l.Contains("Session ended", StringComparison.Ordinal) && l.Contains(id, StringComparison.Ordinal)) &&
            all.Count(l => l.Contains("Executed endpoint", StringComparison.Ordinal) && l.Contains("/v1/interviews/{id}", StringComparison.Ordinal)) >= 2);

        var sessionLines = 0;
        var gatewayLines = 0;
        foreach (var line in lines)
        {
            using var doc = JsonDocument.Parse(line); // every line is one JSON object
            var root = doc.RootElement;
            Assert.True(root.TryGetProperty("Timestamp", out _) && root.TryGetProperty("LogLevel", out _) && root.TryGetProperty("Category", out _), line);
            foreach (var secret in secrets) Assert.DoesNotContain(secret, line, StringComparison.Ordinal);

            var scopes = root.TryGetProperty("Scopes", out var s) ? s.EnumerateArray().ToArray() : [];
            if (root.GetProperty("Category").GetString() == "Microsoft.AspNetCore.Routing.EndpointMiddleware"
                && root.GetProperty("Message").GetString()!.Contains("/v1/interviews/{id}", StringComparison.Ordinal))
            {
                gatewayLines++; // the gateway's own lines for a request about this session
                Assert.Contains(scopes, scope =>
                    scope.TryGetProperty("session_id", out var sid) && sid.GetString() == id &&
                    scope.TryGetProperty("tenant_id", out var tid) && tid.GetString() == Tenant);
            }
            var mentionsSession = root.GetProperty("Message").GetString()!.Contains(id, StringComparison.Ordinal)
                || root.GetProperty("Category").GetString() == "VoiceActors.Sessions.InterviewSessionGrain";
            if (!mentionsSession) continue;
            if (root.GetProperty("Category").GetString() == "VoiceActors.LiveKit.LiveKitWebhookReceiver")
            {
                // Known gap (reported): the webhook receiver logs the room (interview-<session id>) outside any session scope
                // because it does not know the tenant; its line is correlated by the trace the grain's call started.
                Assert.Contains(scopes, scope => scope.TryGetProperty("TraceId", out _));
                continue;
            }
            sessionLines++;
            Assert.True(scopes.Any(scope =>
                scope.TryGetProperty("session_id", out var sid) && sid.GetString() == id &&
                scope.TryGetProperty("tenant_id", out var tid) && tid.GetString() == Tenant &&
                scope.TryGetProperty("candidate_id", out var cid) && cid.GetString() == "cand-logs"), $"a session line without the session's ids: {line}");
        }
        Assert.True(sessionLines >= 2, $"expected the session's created and ended lines, saw {sessionLines}:\n{_silo.Output}");
        Assert.True(gatewayLines >= 4, $"expected endpoint lines for the timeline and complete requests, saw {gatewayLines}");
    }

    [Fact]
    public async Task Dashboard_requires_an_api_key_and_accepts_it_as_bearer_or_basic_password()
    {
        var anonymous = await _http.SendAsync(Request(HttpMethod.Get, "/dashboard/"));
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal("Basic", anonymous.Headers.WwwAuthenticate.Single().Scheme); // a browser prompts for it

        var wrong = await _http.SendAsync(Request(HttpMethod.Get, "/dashboard/", Basic("operator", "not-a-key")));
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);

        var basic = await _http.SendAsync(Request(HttpMethod.Get, "/dashboard/", Basic("operator", ApiKey)));
        Assert.Equal(HttpStatusCode.OK, basic.StatusCode);
        Assert.Contains("Orleans Dashboard", await basic.Content.ReadAsStringAsync());

        var bearer = await _http.SendAsync(Request(HttpMethod.Get, "/dashboard/", new AuthenticationHeaderValue("Bearer", ApiKey)));
        Assert.Equal(HttpStatusCode.OK, bearer.StatusCode);

        // The dashboard's data shows the session grains (its counters refresh every second: poll, bounded).
        var key = new AuthenticationHeaderValue("Bearer", ApiKey);
        Assert.Equal(HttpStatusCode.Created, (await _http.SendAsync(Request(HttpMethod.Post, "/v1/interviews", key, new { candidateId = "cand-dash", jobId = "job-dash" }))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _http.SendAsync(Request(HttpMethod.Get, "/dashboard/DashboardCounters"))).StatusCode);
        await Eventually.UntilAsync(async () =>
        {
            var counters = await (await _http.SendAsync(Request(HttpMethod.Get, "/dashboard/DashboardCounters", Basic("operator", ApiKey)))).Content.ReadFromJsonAsync<JsonElement>();
            return counters.GetProperty("simpleGrainStats").EnumerateArray().Any(g =>
                g.GetProperty("grainType").GetString() == "VoiceActors.Sessions.InterviewSessionGrain" && g.GetProperty("activationCount").GetInt32() >= 1);
        }, TimeSpan.FromSeconds(15), () => "the dashboard never showed an InterviewSessionGrain activation", TimeSpan.FromMilliseconds(200));

        // Prometheus scrapes without credentials; the probes too.
        var metrics = await _http.GetStringAsync("/metrics");
        Assert.Contains("voice_agent_active_sessions_total", metrics);
        Assert.Equal(HttpStatusCode.OK, (await _http.GetAsync("/healthz")).StatusCode);
    }

    private static AuthenticationHeaderValue Basic(string user, string password) =>
        new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));

    private Task<string[]> WaitForLinesAsync(Func<string[], bool> complete) => Eventually.ValueAsync(
        () => Task.FromResult(_silo.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)),
        complete, TimeSpan.FromSeconds(15), _ => $"log line not seen:\n{_silo.Output}");
}
