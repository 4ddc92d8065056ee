using System.Net.Http.Json;

namespace VoiceActors.Tests.Regions;

/// <summary>An operator marks a region down: new sessions go elsewhere and the live ones move, each with a reconnect directive.</summary>
public sealed class RegionFailoverTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int Sessions = 20;
    private readonly RedisServer _redis = new();
    private SiloFleet _fleet = null!;

    public async Task InitializeAsync()
    {
        await _redis.InitializeAsync();
        _fleet = await SiloFleet.StartAsync(_redis, ("eu", 100), ("us", 100));
    }

    public async Task DisposeAsync()
    {
        await _fleet.DisposeAsync();
        await _redis.DisposeAsync();
    }

    [Fact]
    public async Task Marking_a_region_down_reroutes_new_sessions_and_moves_live_ones_with_a_reconnect_directive()
    {
        var (eu, us) = (_fleet.Silos[0], _fleet.Silos[1]);
        var api = eu.HttpAs(SiloFleet.TenantKey);
        var nearUs = new Dictionary<string, double> { ["us"] = 12, ["eu"] = 150 };
        var ids = await _fleet.CreateLiveSessionsAsync(eu, nearUs, Sessions);
        foreach (var id in ids)
        {
            var snapshot = await _fleet.SnapshotAsync(id);
            Assert.Equal("us", snapshot.Region);
            Assert.Equal(us, _fleet.SiloOf(snapshot));
        }

        var ops = _fleet.Operator(eu);
        await RefusesBadInputAsync(eu, ops);
        var clock = Stopwatch.StartNew();
        var marked = await (await ops.PutAsJsonAsync("/v1/regions/us/health", new { status = "down", reason = "LiveKit us outage drill" })).ExpectAsync(HttpStatusCode.OK);
        Assert.False(marked.GetProperty("healthy").GetBoolean());

        // Each client polls GET /v1/interviews/{id}; the interruption is until its directive appears and the session runs in eu.
        var interruptions = await Task.WhenAll(ids.Select(async id =>
        {
            await SiloFleet.WaitUntilAsync(async () =>
            {
                var body = await api.GetFromJsonAsync<JsonElement>($"/v1/interviews/{id}");
                if (!body.TryGetProperty("reconnect", out var directive) || body.GetProperty("region").GetString() != "eu") return false;
                Assert.Equal("eu", directive.GetProperty("region").GetString());
                Assert.Equal("us", directive.GetProperty("fromRegion").GetString());
                Assert.Equal($"interview-{id}", directive.GetProperty("room").GetString());
                Assert.False(string.IsNullOrEmpty(directive.GetProperty("liveKitUrl").GetString()), "the directive names the new LiveKit");
                Assert.False(string.IsNullOrEmpty(directive.GetProperty("candidateToken").GetString()), "the directive carries a fresh token");
                return _fleet.SiloOf(await _fleet.SnapshotAsync(id)) == eu;
            }, TimeSpan.FromSeconds(20), () => $"session {id} never moved to eu");
            return clock.Elapsed.TotalMilliseconds;
        }));
        Array.Sort(interruptions);
        output.WriteLine($"failover of {ids.Count} sessions: directive + running in eu after p50 {interruptions[ids.Count / 2]:0} ms, max {interruptions[^1]:0} ms");

        foreach (var id in ids)
        {
            var s = await _fleet.SnapshotAsync(id);
            Assert.Equal(SessionStatus.Active, s.Status); // the interview continues with its state
            Assert.Equal(1, s.TurnCount);
            Assert.Equal(2, s.Participants.Count);
            var timeline = await _fleet.Client.GetGrain<IInterviewSessionGrain>(id).GetTimeline(SiloFleet.Tenant);
            Assert.Contains(timeline, e => e.Kind == TimelineKinds.RegionFailover && e.Detail!.Contains("us -> eu"));
        }

        var rerouted = await (await SiloFleet.CreateAsync(eu, nearUs)).ExpectAsync(HttpStatusCode.Created);
        Assert.Equal("eu", rerouted.GetProperty("region").GetString());
        Assert.Contains("us is down (marked down by operator: LiveKit us outage drill)", rerouted.GetProperty("regionReason").GetString());

        // eu is now the last healthy region: marking it down too is refused, and nothing changes.
        var refused = await (await ops.PutAsJsonAsync("/v1/regions/eu/health", new { status = "down" })).ExpectAsync(HttpStatusCode.Conflict);
        Assert.Equal("Last healthy region", refused.GetProperty("title").GetString());
        await (await SiloFleet.CreateAsync(eu, null)).ExpectAsync(HttpStatusCode.Created);

        // Back to the probes: us is healthy again and takes sessions near it.
        await (await ops.PutAsJsonAsync("/v1/regions/us/health", new { status = "auto" })).ExpectAsync(HttpStatusCode.OK);
        await SiloFleet.WaitUntilAsync(async () =>
            (await (await SiloFleet.CreateAsync(eu, nearUs)).ExpectAsync(HttpStatusCode.Created)).GetProperty("region").GetString() == "us",
            TimeSpan.FromSeconds(10), () => "us never took sessions again after the override was cleared");
    }

    [Fact]
    public async Task A_down_regions_session_hosted_in_another_region_gets_a_reconnect_directive_too()
    {
        var (eu, us) = (_fleet.Silos[0], _fleet.Silos[1]);
        var nearUs = new Dictionary<string, double> { ["us"] = 12, ["eu"] = 150 };
        var ids = await _fleet.CreateLiveSessionsAsync(eu, nearUs, 4);

        // us's only silo drains: with no other us silo, its sessions move to eu and keep their region (and their room in us).
        us.Process!.Terminate();
        await us.Process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(40));
        foreach (var id in ids)
        {
            var s = await _fleet.SnapshotAsync(id);
            Assert.Equal(eu, _fleet.SiloOf(s));
            Assert.Equal("us", s.Region);
            Assert.Null(s.Reconnect);
        }

        // eu is healthy, but the sessions it hosts belong to us: each still needs a room outside us.
        await (await _fleet.Operator(eu).PutAsJsonAsync("/v1/regions/us/health", new { status = "down", reason = "LiveKit us outage drill" }))
            .ExpectAsync(HttpStatusCode.OK);
        var api = eu.HttpAs(SiloFleet.TenantKey);
        foreach (var id in ids)
        {
            await SiloFleet.WaitUntilAsync(async () =>
                (await api.GetFromJsonAsync<JsonElement>($"/v1/interviews/{id}")).TryGetProperty("reconnect", out _),
                TimeSpan.FromSeconds(10), () => $"session {id} of the down region us, hosted in eu, never got a reconnect directive");
            var body = await api.GetFromJsonAsync<JsonElement>($"/v1/interviews/{id}");
            var directive = body.GetProperty("reconnect");
            Assert.Equal("eu", body.GetProperty("region").GetString());
            Assert.Equal("eu", directive.GetProperty("region").GetString());
            Assert.Equal("us", directive.GetProperty("fromRegion").GetString());
            Assert.Equal($"interview-{id}", directive.GetProperty("room").GetString());
            Assert.False(string.IsNullOrEmpty(directive.GetProperty("candidateToken").GetString()), "the directive carries a fresh token");

            var s = await _fleet.SnapshotAsync(id);
            Assert.Equal(SessionStatus.Active, s.Status);
            Assert.Equal(1, s.TurnCount);
            Assert.Equal(eu, _fleet.SiloOf(s));
            // Failed over once: a session already in its target region is not failed over again on the next refreshes.
            var timeline = await _fleet.Client.GetGrain<IInterviewSessionGrain>(id).GetTimeline(SiloFleet.Tenant);
            Assert.Single(timeline, e => e.Kind == TimelineKinds.RegionFailover && e.Detail!.Contains("us -> eu"));
        }
    }

    /// <summary>Bad input over HTTP: problem details, and nothing changes.</summary>
    private static async Task RefusesBadInputAsync(FleetSilo gateway, HttpClient ops)
    {
        await (await SiloFleet.CreateAsync(gateway, new() { ["eu"] = -5 })).ExpectAsync(HttpStatusCode.BadRequest);
        await (await SiloFleet.CreateAsync(gateway, new() { ["eu"] = 1e9 })).ExpectAsync(HttpStatusCode.BadRequest);
        var unknownOnly = await (await SiloFleet.CreateAsync(gateway, new() { ["mars"] = 3 })).ExpectAsync(HttpStatusCode.Created);
        Assert.Equal("eu", unknownOnly.GetProperty("region").GetString());
        Assert.Equal("configured primary region; ignored unknown regions mars", unknownOnly.GetProperty("regionReason").GetString());

        var unknown = await (await ops.PutAsJsonAsync("/v1/regions/mars/health", new { status = "down" })).ExpectAsync(HttpStatusCode.NotFound);
        Assert.Equal("Unknown region", unknown.GetProperty("title").GetString());
        await (await ops.PutAsJsonAsync("/v1/regions/eu/health", new { status = "sideways" })).ExpectAsync(HttpStatusCode.BadRequest);
        await (await gateway.HttpAs(SiloFleet.TenantKey).PutAsJsonAsync("/v1/regions/eu/health", new { status = "down" })).ExpectAsync(HttpStatusCode.Forbidden);
        await (await gateway.Http.PutAsJsonAsync("/v1/regions/eu/health", new { status = "down" })).ExpectAsync(HttpStatusCode.Unauthorized);
        var regions = await ops.GetFromJsonAsync<JsonElement>("/v1/regions");
        Assert.All(regions.EnumerateArray(), r => Assert.True(r.GetProperty("healthy").GetBoolean()));
    }
}
