using System.Net.Http.Json;
using Microsoft.Extensions.Logging.Abstractions;
using VoiceActors.LiveKit;
using VoiceActors.Tests.Regions;

namespace VoiceActors.Tests.EndToEnd;

/// <summary>
/// Real silo processes on a real redis-server (<see cref="SiloFleet"/>), each region's LiveKit a stand-in SFU process of its own
/// (<c>--serve-api</c>): every silo of the cluster is configured with the same URL and keys as it would be with LiveKit, and the
/// SFU posts its webhooks to every silo's receiver. A silo can then die without taking its rooms with it.
/// </summary>
public sealed class LiveKitCluster : IAsyncDisposable
{
    private readonly Dictionary<string, StandInSfu> _sfus = new(StringComparer.Ordinal);
    private readonly Dictionary<string, LiveKitOptions> _livekit = new(StringComparer.Ordinal);

    private readonly RedisServer _redis;
    private SiloFleet? _fleet;

    private LiveKitCluster(RedisServer redis) => _redis = redis;

    public SiloFleet Fleet => _fleet!;

    /// <summary>The SFU serving <paramref name="region"/>.</summary>
    public StandInSfu Sfu(string region) => _sfus[region];

    /// <summary>RoomService of <paramref name="region"/>'s SFU, as the silos call it (their own client, over HTTP).</summary>
    public LiveKitRoomClient Rooms(string region)
    {
        var options = _livekit[region];
        return new LiveKitRoomClient(Http, new Uri(options.Url!), new LiveKitTokens(options, TimeProvider.System), options, NullLogger.Instance);
    }

    private static readonly HttpClient Http = new() { Timeout = Timeout.InfiniteTimeSpan };

    /// <param name="regions">Each region gets its own SFU process and key (<c>Regions:&lt;region&gt;:LiveKit:*</c>).</param>
    /// <param name="silos">The fleet's silos, started in this order, clustered on a redis-server of their own.</param>
    public static async Task<LiveKitCluster> StartAsync(string[] regions, params (string Region, int Capacity)[] silos)
    {
        var settings = new Dictionary<string, string?>
        {
            ["MediaBridge:Enabled"] = "true", // the agent joins the rooms from each silo's bridge (rtc-node), as in production
            // A probe is one GET to the SFU, which shares the cores with the silos, their bridges and a browser: the fleet's 0.5 s
            // failed a healthy region over at load average 50. A dead SFU refuses the connection at once, whatever the timeout.
            ["RegionHealth:ProbePeriod"] = "00:00:02",
            ["RegionHealth:ProbeTimeout"] = "00:00:02",
        };
        var ports = new Dictionary<string, int>(StringComparer.Ordinal);
        var options = new Dictionary<string, LiveKitOptions>(StringComparer.Ordinal);
        foreach (var region in regions)
        {
            var port = FreePort.Next(); // known before the silos start: they are configured with it, the SFU binds it after them
            ports[region] = port;
            options[region] = new LiveKitOptions
            {
                Url = $"ws://127.0.0.1:{port}",
                ApiKey = $"lk-{region}-key",
                ApiSecret = $"lk-{region}-secret-" + Guid.NewGuid().ToString("N"),
            };
            var section = LiveKitOptions.SectionFor(region);
            settings[$"{section}:Url"] = options[region].Url;
            settings[$"{section}:ApiKey"] = options[region].ApiKey;
            settings[$"{section}:ApiSecret"] = options[region].ApiSecret;
        }
        var cluster = new LiveKitCluster(new RedisServer());
        try
        {
            await cluster._redis.InitializeAsync();
            cluster._fleet = await SiloFleet.StartAsync(cluster._redis, settings, silos);
            foreach (var (region, o) in options) cluster._livekit[region] = o;
            // LiveKit posts every event to each configured URL (webhook.urls); the session applies each event id once.
            var hooks = cluster.Fleet.Silos.Select(s => new Uri($"http://127.0.0.1:{s.HttpPort}{LiveKitStandIn.WebhookPath}")).ToArray();
            var starting = regions.ToDictionary(r => r, r => StandInSfu.ServeAsync(new Dictionary<string, string> { [options[r].ApiKey] = options[r].ApiSecret },
                ports[r], hooks));
            try
            {
                await Task.WhenAll(starting.Values);
            }
            finally
            {
                foreach (var (region, sfu) in starting) if (sfu.IsCompletedSuccessfully) cluster._sfus[region] = sfu.Result;
            }
            await cluster.WaitHealthyAsync(regions);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Creates an interview through <paramref name="via"/>, as a backend would: a 503 (its admission reads a region view it
    /// refreshes every second, which may not yet show the regions this cluster just saw turn healthy) is retried after a pause.
    /// </summary>
    public static async Task<JsonElement> CreateAsync(FleetSilo via, Dictionary<string, double>? pings, string candidate)
    {
        var response = await Eventually.ValueAsync(() => SiloFleet.CreateAsync(via, pings, candidate),
            r => r.StatusCode != HttpStatusCode.ServiceUnavailable, TimeSpan.FromSeconds(30),
            r => $"the create was refused with 503 for 30 s: {r?.StatusCode}", TimeSpan.FromMilliseconds(500));
        using (response) return await response.ExpectAsync(HttpStatusCode.Created);
    }

    /// <summary>
    /// Every region's probe reached its SFU (they probe from the start, when the SFUs were not up yet) and a silo of it has
    /// reported capacity; then every silo's own region view has had two refreshes to see it, as a drain waits (SiloDrain), so
    /// the first create is placed by the same view the directory shows (a create straight after once went to the far region).
    /// </summary>
    private async Task WaitHealthyAsync(string[] regions)
    {
        await SiloFleet.WaitUntilAsync(async () =>
        {
            var view = await Fleet.Operator(Fleet.Silos[0]).GetFromJsonAsync<JsonElement>("/v1/regions");
            return regions.All(r => view.EnumerateArray().Any(v => v.GetProperty("name").GetString() == r && v.GetProperty("healthy").GetBoolean()
                && v.GetProperty("capacity").GetInt32() > 0));
        }, TimeSpan.FromSeconds(30), () => "the regions never became healthy with capacity once their SFUs listened");
        await Task.Delay(2 * new VoiceActors.Regions.RegionHealthOptions().ViewRefreshPeriod); // the fleet runs the default period
    }

    public async ValueTask DisposeAsync()
    {
        if (_fleet is not null) await _fleet.DisposeAsync();
        foreach (var sfu in _sfus.Values) await sfu.DisposeAsync();
        await _redis.DisposeAsync();
    }
}
