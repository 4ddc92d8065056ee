using System.Net.Http.Json;

namespace VoiceActors.Tests.Regions;

/// <summary>Placement across real silo processes in two regions on real Redis clustering.</summary>
public sealed class PlacementTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly RedisServer _redis = new();
    private SiloFleet _fleet = null!;

    private static readonly Dictionary<string, double> NearEu = new() { ["eu"] = 20, ["us"] = 160 };
    private static readonly Dictionary<string, double> NearUs = new() { ["us"] = 15, ["eu"] = 170 };

    public async Task InitializeAsync()
    {
        await _redis.InitializeAsync();
        _fleet = await SiloFleet.StartAsync(_redis, ("eu", 20), ("eu", 20), ("us", 20));
    }

    public async Task DisposeAsync()
    {
        await _fleet.DisposeAsync();
        await _redis.DisposeAsync();
    }

    [Fact]
    public async Task Sessions_stay_in_their_region_spread_over_its_least_loaded_silos_and_a_new_silo_fills_first()
    {
        var gateway = _fleet.Silos[2]; // the us silo's gateway places eu sessions remotely: placement is not "wherever the call arrived"
        var eu = new List<FleetSilo>();
        for (var i = 0; i < 10; i++)
        {
            var body = await (await SiloFleet.CreateAsync(gateway, NearEu)).ExpectAsync(HttpStatusCode.Created);
            Assert.Equal("eu", body.GetProperty("region").GetString());
            Assert.StartsWith("lowest round-trip time: 20 ms", body.GetProperty("regionReason").GetString());
            eu.Add(_fleet.SiloOf(await _fleet.SnapshotAsync(body.GetProperty("sessionId").GetString()!)));
        }
        Assert.All(eu, s => Assert.Equal("eu", s.Region));
        var perSilo = eu.GroupBy(s => s.SiloPort).Select(g => g.Count()).ToArray();
        output.WriteLine($"eu placement: {string.Join(", ", eu.GroupBy(s => s.ToString()).Select(g => $"{g.Key}={g.Count()}"))}");
        Assert.Equal(2, perSilo.Length);
        Assert.True(Math.Abs(perSilo[0] - perSilo[1]) <= 2, $"least-loaded placement should balance, got {string.Join("/", perSilo)}");

        for (var i = 0; i < 3; i++)
        {
            var body = await (await SiloFleet.CreateAsync(_fleet.Silos[0], NearUs)).ExpectAsync(HttpStatusCode.Created);
            Assert.Equal("us", body.GetProperty("region").GetString());
            Assert.Equal(_fleet.Silos[2], _fleet.SiloOf(await _fleet.SnapshotAsync(body.GetProperty("sessionId").GetString()!)));
        }

        // Scale-out: a new eu silo joins empty, so the least-loaded rule sends it the next sessions.
        var joined = await _fleet.AddSiloAsync("eu", 20);
        var toNew = 0;
        for (var i = 0; i < 6; i++)
        {
            var body = await (await SiloFleet.CreateAsync(gateway, NearEu)).ExpectAsync(HttpStatusCode.Created);
            if (_fleet.SiloOf(await _fleet.SnapshotAsync(body.GetProperty("sessionId").GetString()!)) == joined) toNew++;
        }
        output.WriteLine($"new silo took {toNew} of 6");
        Assert.True(toNew >= 5, $"the new, empty silo should take the next sessions; it took {toNew} of 6");
    }

    [Fact]
    public async Task Admission_spills_to_the_fallback_region_then_refuses_with_429_and_retry_after_at_capacity()
    {
        // Capacity: eu 20 + 20, us 20. Admission reads a view up to one refresh old; the session's own check on its silo is exact,
        // so near the limit a create may be refused a moment early but never admitted beyond capacity.
        var gateway = _fleet.Silos[0];
        var created = new Dictionary<string, List<string>> { ["eu"] = [], ["us"] = [] };
        HttpResponseMessage? refused = null;
        var reasons = new List<string>();
        for (int attempt = 0, refusedInARow = 0; attempt < 150 && refusedInARow < 5; attempt++)
        {
            var response = await SiloFleet.CreateAsync(gateway, NearEu);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                refused = response;
                refusedInARow++;
                // A refusal from a view one refresh old is allowed; only refusals that persist after the views catch up count as full.
                await Task.Delay(TimeSpan.FromMilliseconds(500));
                continue;
            }
            refusedInARow = 0;
            var body = await response.ExpectAsync(HttpStatusCode.Created);
            created[body.GetProperty("region").GetString()!].Add(body.GetProperty("sessionId").GetString()!);
            reasons.Add(body.GetProperty("regionReason").GetString()!);
        }
        output.WriteLine($"admitted eu={created["eu"].Count} us={created["us"].Count}");
        Assert.Equal(40, created["eu"].Count);
        Assert.Equal(20, created["us"].Count);
        Assert.Contains(reasons, r => r.Contains("eu is full", StringComparison.Ordinal));

        Assert.NotNull(refused);
        var problem = await refused.ExpectAsync(HttpStatusCode.TooManyRequests);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        Assert.Equal("Region at capacity", problem.GetProperty("title").GetString());
        Assert.True(refused.Headers.RetryAfter?.Delta > TimeSpan.Zero, "a 429 must say when to retry");

        // Capacity frees as interviews end: admission takes new ones again within a refresh period or two.
        await (await gateway.HttpAs(SiloFleet.TenantKey).PostAsync($"/v1/interviews/{created["eu"][0]}/complete", null)).ExpectAsync(HttpStatusCode.Accepted);
        await SiloFleet.WaitUntilAsync(async () => (await SiloFleet.CreateAsync(gateway, NearEu)).StatusCode == HttpStatusCode.Created,
            TimeSpan.FromSeconds(10), () => "a freed slot was never admitted again");
    }

    [Fact]
    public async Task A_session_whose_silo_is_killed_comes_back_in_its_own_region_when_another_region_calls_it_first()
    {
        var us = _fleet.Silos[2];
        var ids = await _fleet.CreateLiveSessionsAsync(us, NearEu, 8, withAgent: false);
        var hosts = new Dictionary<string, FleetSilo>();
        foreach (var id in ids) hosts[id] = _fleet.SiloOf(await _fleet.SnapshotAsync(id));
        var victim = hosts.Values.GroupBy(s => s).MaxBy(g => g.Count())!.Key;
        var survivor = _fleet.Silos.Single(s => s.Region == "eu" && s != victim);
        var orphans = ids.Where(id => hosts[id] == victim).ToArray();
        output.WriteLine($"{orphans.Length} of {ids.Count} eu sessions on the killed silo {victim}");

        victim.Process!.KillHard();
        // The us silo's gateway calls each orphan without any region in the request context (as a webhook would); its watchdog
        // reminder may tick first, from any silo. Either way placement must find the session's region in its stored state.
        var api = us.HttpAs(SiloFleet.TenantKey);
        await Task.WhenAll(orphans.Select(id => SiloFleet.WaitUntilAsync(
            async () => (await api.GetAsync($"/v1/interviews/{id}")).IsSuccessStatusCode,
            TimeSpan.FromSeconds(30), () => $"session {id} was never re-activated after its silo was killed")));

        foreach (var id in orphans)
        {
            var now = await _fleet.SnapshotAsync(id);
            Assert.Equal(survivor, _fleet.SiloOf(now));
            Assert.Equal(1, now.TurnCount);
            Assert.True(now.Status.IsLive());
            // Straight to eu: one resume, on the eu survivor; not a detour through the us silo that asked first.
            var resumed = (await _fleet.Client.GetGrain<IInterviewSessionGrain>(id).GetTimeline(SiloFleet.Tenant))
                .Where(e => e.Kind == TimelineKinds.Resumed).ToArray();
            Assert.True(resumed.Length == 1, $"session {id} resumed on {string.Join(", ", resumed.Select(e => e.Silo))}");
            Assert.Equal(survivor, SiloAt(resumed[0].Silo!));
        }
    }

    private FleetSilo SiloAt(string address) => _fleet.Silos.Single(s => s.SiloPort == int.Parse(address.Split('@')[0].Split(':')[^1]));
}
