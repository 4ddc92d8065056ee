using VoiceActors.Tests.Sessions;
using VoiceActors.LiveKit;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;
using VoiceActors.Sessions;
using VoiceActors.Tests.Fixtures;

namespace VoiceActors.Tests.Regions;

/// <summary>
/// Real silo processes (the built VoiceActors.Silo.dll) clustered on a real redis-server, each with its own region and capacity,
/// every one serving the gateway API; plus an Orleans client in the test to look at where sessions live.
/// </summary>
public sealed class SiloFleet : IAsyncDisposable
{
    public const string TenantKey = "fleet-tenant-key";
    public const string Tenant = "acme";
    public const string OperatorKey = "fleet-operator-key";

    private readonly RedisServer _redis;
    private readonly string _clusterId = "fleet-" + Guid.NewGuid().ToString("N")[..8];
    private readonly Dictionary<string, string> _settings;
    private IHost? _clientHost;

    private SiloFleet(RedisServer redis, Dictionary<string, string> settings)
    {
        _redis = redis;
        _settings = settings;
    }

    public List<FleetSilo> Silos { get; } = [];
    public IClusterClient Client => _clientHost!.Services.GetRequiredService<IClusterClient>();

    /// <summary>Regions eu (primary, falls back to us) and us (falls back to eu); fast probes and refreshes so tests wait little.</summary>
    public static async Task<SiloFleet> StartAsync(RedisServer redis, params (string Region, int Capacity)[] silos)
    {
        var settings = new Dictionary<string, string>
        {
            ["Regions:eu:Primary"] = "true",
            ["Regions:eu:Fallback:0"] = "us",
            ["Regions:us:Fallback:0"] = "eu",
            ["RegionHealth:ProbePeriod"] = "00:00:01",
            ["RegionHealth:ProbeTimeout"] = "00:00:00.500",
            ["RegionHealth:ViewRefreshPeriod"] = "00:00:00.250",
            ["RegionHealth:SiloReportExpiry"] = "00:00:05",
            ["Drain:Deadline"] = "00:00:20",
            ["Gateway:ApiKeys:0:Key"] = TenantKey,
            ["Gateway:ApiKeys:0:Tenant"] = Tenant,
            ["Gateway:ApiKeys:1:Key"] = OperatorKey,
            ["Gateway:ApiKeys:1:Tenant"] = "ops",
            ["Gateway:OperatorTenants:0"] = "ops",
            ["Silo:ServeGateway"] = "true",
            ["Logging:LogLevel:Default"] = "Warning",
            ["Logging:LogLevel:Orleans"] = "Error",
        };
        var fleet = new SiloFleet(redis, settings);
        try
        {
            await Task.WhenAll(silos.Select(s => fleet.AddSiloAsync(s.Region, s.Capacity, waitForRegionView: false)));
            await fleet.WaitForRegionViewAsync();
            fleet._clientHost = Host.CreateDefaultBuilder()
                .UseOrleansClient(c =>
                {
                    c.Configure<ClusterOptions>(o => { o.ClusterId = fleet._clusterId; o.ServiceId = fleet._clusterId; });
                    c.UseRedisClustering(redis.ConnectionString);
                })
                .Build();
            await fleet._clientHost.StartAsync();
            return fleet;
        }
        catch
        {
            await fleet.DisposeAsync();
            throw;
        }
    }

    public async Task<FleetSilo> AddSiloAsync(string region, int capacity, bool waitForRegionView = true)
    {
        var silo = new FleetSilo(region, FreePort.Next(), FreePort.Next(), FreePort.Next());
        lock (Silos) Silos.Add(silo);
        var args = new List<string>
        {
            Path.Combine(AppContext.BaseDirectory, "VoiceActors.Silo.dll"),
            $"--ConnectionStrings:Redis={_redis.ConnectionString}",
            $"--Orleans:ClusterId={_clusterId}",
            $"--Orleans:ServiceId={_clusterId}",
            $"--Orleans:SiloPort={silo.SiloPort}",
            $"--Orleans:GatewayPort={silo.GatewayPort}",
            $"--urls=http://127.0.0.1:{silo.HttpPort}",
            $"--Silo:Region={region}",
            $"--Silo:MaxConcurrentSessions={capacity}",
        };
        foreach (var (k, v) in _settings) args.Add($"--{k}={v}");
        silo.Process = ExternalProcess.Start("dotnet", args, AppContext.BaseDirectory);
        await WaitUntilAsync(async () => (await silo.Http.GetAsync("/healthz")).IsSuccessStatusCode, TimeSpan.FromSeconds(60),
            () => $"silo {region}:{silo.SiloPort} did not become healthy:\n{silo.Process.Output}");
        if (waitForRegionView) await WaitForRegionViewAsync();
        return silo;
    }

    /// <summary>Waits until every running silo shows up in its region's capacity, then two refresh periods so every silo's view has them.</summary>
    public async Task WaitForRegionViewAsync()
    {
        var running = Silos.Where(s => !s.Process!.HasExited).ToArray();
        await WaitUntilAsync(async () =>
        {
            var regions = await Operator(running[0]).GetFromJsonAsync<JsonElement>("/v1/regions");
            var reported = regions.EnumerateArray().SelectMany(r => r.GetProperty("silos").EnumerateArray())
                .Count(s => !s.GetProperty("draining").GetBoolean());
            return reported >= running.Length;
        }, TimeSpan.FromSeconds(30), () => "the silos never all reported their load");
        await Task.Delay(600); // two view refreshes (250 ms each): every silo has seen every report
    }

    public HttpClient Operator(FleetSilo silo) => silo.HttpAs(OperatorKey);

    /// <summary>POST /v1/interviews through a silo's gateway API.</summary>
    public static Task<HttpResponseMessage> CreateAsync(FleetSilo via, Dictionary<string, double>? pings, string candidate = "cand") =>
        via.HttpAs(TenantKey).PostAsJsonAsync("/v1/interviews", new { candidateId = candidate, jobId = "job-1", regionPings = pings });

    /// <summary>Opens interviews through <paramref name="via"/>'s API and makes each live: candidate (and agent) in, one turn recorded.</summary>
    public async Task<List<string>> CreateLiveSessionsAsync(FleetSilo via, Dictionary<string, double>? pings, int count, bool withAgent = true)
    {
        var ids = new List<string>();
        var at = DateTimeOffset.UtcNow;
        for (var i = 0; i < count; i++)
        {
            var body = await (await CreateAsync(via, pings, $"cand-{i}")).ExpectAsync(HttpStatusCode.Created);
            var id = body.GetProperty("sessionId").GetString()!;
            var grain = Client.GetGrain<IInterviewSessionGrain>(id);
            await grain.JoinAsync("candidate", ParticipantRole.Candidate);
            if (withAgent) await grain.JoinAsync("agent", ParticipantRole.Agent);
            await grain.RecordTurn(new Turn(ParticipantRole.Candidate, "hello", at, at.AddSeconds(1)));
            ids.Add(id);
        }
        return ids;
    }

    public async Task<SessionSnapshot> SnapshotAsync(string sessionId) =>
        await Client.GetGrain<IInterviewSessionGrain>(sessionId).Get(Tenant);

    /// <summary>The fleet silo hosting a session, from the silo address the session records for itself.</summary>
    public FleetSilo SiloOf(SessionSnapshot s)
    {
        var port = int.Parse(s.Silo!.Split('@')[0].Split(':')[^1]);
        return Silos.Single(x => x.SiloPort == port);
    }

    public static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, Func<string> failure)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                if (await condition()) return;
            }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) { }
            if (DateTime.UtcNow > deadline) throw new TimeoutException(failure());
            await Task.Delay(100);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_clientHost is not null)
        {
            try { await _clientHost.StopAsync(TimeSpan.FromSeconds(5)); } catch (Exception) { }
            _clientHost.Dispose();
        }
        await Task.WhenAll(Silos.Where(s => s.Process is not null).Select(s => s.Process!.DisposeAsync().AsTask()));
        foreach (var s in Silos) s.Dispose();
    }
}

public sealed class FleetSilo(string region, int siloPort, int gatewayPort, int httpPort) : IDisposable
{
    private readonly Dictionary<string, HttpClient> _clients = new();

    public string Region { get; } = region;
    public int SiloPort { get; } = siloPort;
    public int GatewayPort { get; } = gatewayPort;
    public int HttpPort { get; } = httpPort;
    public ExternalProcess? Process { get; set; }
    public HttpClient Http => HttpAs(null);

    public HttpClient HttpAs(string? key)
    {
        lock (_clients)
        {
            if (_clients.TryGetValue(key ?? "", out var c)) return c;
            c = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{HttpPort}"), Timeout = TimeSpan.FromSeconds(10) };
            if (key is not null) c.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
            _clients[key ?? ""] = c;
            return c;
        }
    }

    public override string ToString() => $"{Region}:{SiloPort}";

    public void Dispose()
    {
        foreach (var c in _clients.Values) c.Dispose();
    }
}

internal static class HttpStatusAssertions
{
    public static async Task<JsonElement> ExpectAsync(this HttpResponseMessage response, HttpStatusCode status)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"expected {(int)status}, got {(int)response.StatusCode}: {body}");
        return body.Length == 0 ? default : JsonDocument.Parse(body).RootElement.Clone();
    }
}
