using VoiceActors.Tests.Sessions;
using VoiceActors.LiveKit;
using System.Net.Http.Headers;
using System.Net.Http.Json;

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
    private readonly Dictionary<string, string?> _settings;
    private ClusterClient? _client;

    private SiloFleet(RedisServer redis, Dictionary<string, string?> settings)
    {
        _redis = redis;
        _settings = settings;
    }

    public List<FleetSilo> Silos { get; } = [];
    public IClusterClient Client => _client!.Client;

    /// <summary>Regions eu (primary, falls back to us) and us (falls back to eu); fast probes and refreshes so tests wait little.</summary>
    public static Task<SiloFleet> StartAsync(RedisServer redis, params (string Region, int Capacity)[] silos) =>
        StartAsync(redis, new Dictionary<string, string?>(), silos);

    /// <param name="extra">More settings for every silo (e.g. each region's <c>LiveKit:Url</c>); they win over the fleet's.</param>
    public static async Task<SiloFleet> StartAsync(RedisServer redis, IReadOnlyDictionary<string, string?> extra, params (string Region, int Capacity)[] silos)
    {
        var settings = new Dictionary<string, string?>
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
        foreach (var (key, value) in extra) settings[key] = value;
        var fleet = new SiloFleet(redis, settings);
        try
        {
            // Started together, listed in the order asked for: tests address them by index.
            var starting = silos.Select(s => fleet.StartSiloAsync(s.Region, s.Capacity)).ToArray();
            try
            {
                await Task.WhenAll(starting);
            }
            finally
            {
                foreach (var s in starting) if (s.IsCompletedSuccessfully) fleet.Silos.Add(s.Result);
            }
            await fleet.WaitForRegionViewAsync();
            fleet._client = await ClusterClient.ConnectAsync(redis.ConnectionString, fleet._clusterId);
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
        var silo = await StartSiloAsync(region, capacity);
        lock (Silos) Silos.Add(silo);
        if (waitForRegionView) await WaitForRegionViewAsync();
        return silo;
    }

    private async Task<FleetSilo> StartSiloAsync(string region, int capacity)
    {
        var settings = new Dictionary<string, string?>(_settings)
        {
            ["ConnectionStrings:Redis"] = _redis.ConnectionString,
            ["Orleans:ClusterId"] = _clusterId,
            ["Orleans:ServiceId"] = _clusterId,
            ["Silo:Region"] = region,
            ["Silo:MaxConcurrentSessions"] = capacity.ToString(),
        };
        return new FleetSilo(region, await SiloProcess.StartAsync(settings, $"silo {region}"));
    }

    /// <summary>
    /// Waits until every running silo shows up in its region's capacity, then until each has reported twice more: a silo
    /// reads the view right after it reports, so by its second report after that every silo's view has every silo's load.
    /// </summary>
    public async Task WaitForRegionViewAsync()
    {
        var running = Silos.Where(s => !s.Process.HasExited).ToArray();
        var seen = running.ToDictionary(s => s, _ => new HashSet<DateTimeOffset>());
        async Task<bool> Reported(int times)
        {
            var reports = await ReportsAsync(running[0]);
            foreach (var (silo, at) in seen)
                if (reports.FirstOrDefault(r => silo.Process.Hosts(r.Silo)) is { Silo: not null } report) at.Add(report.At);
            return seen.Values.All(at => at.Count >= times);
        }
        await WaitUntilAsync(() => Reported(1), TimeSpan.FromSeconds(30), () => "the silos never all reported their load");
        foreach (var at in seen.Values)
        {
            var latest = at.Max();
            at.RemoveWhere(t => t < latest);
        }
        await WaitUntilAsync(() => Reported(3), TimeSpan.FromSeconds(30), () => "the silos stopped reporting their load");
    }

    /// <summary>The latest load report of every silo that is not draining.</summary>
    private async Task<(string? Silo, DateTimeOffset At)[]> ReportsAsync(FleetSilo via)
    {
        var regions = await Operator(via).GetFromJsonAsync<JsonElement>("/v1/regions");
        return regions.EnumerateArray().SelectMany(r => r.GetProperty("silos").EnumerateArray())
            .Where(s => !s.GetProperty("draining").GetBoolean())
            .Select(s => (s.GetProperty("silo").GetString(), s.GetProperty("reportedAt").GetDateTimeOffset())).ToArray();
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

    public static Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, Func<string> failure) =>
        Eventually.UntilAsync(condition, timeout, failure, TimeSpan.FromMilliseconds(100));

    public async ValueTask DisposeAsync()
    {
        if (_client is not null) await _client.DisposeAsync();
        await Task.WhenAll(Silos.Select(s => s.Process.DisposeAsync().AsTask()));
        foreach (var s in Silos) s.Dispose();
    }
}

public sealed class FleetSilo(string region, SiloProcess process) : IDisposable
{
    private readonly Dictionary<string, HttpClient> _clients = new();

    public string Region { get; } = region;
    public SiloProcess Process { get; } = process;
    public int SiloPort => Process.SiloPort;
    public int GatewayPort => Process.GatewayPort;
    public int HttpPort => Process.HttpPort;
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
