using VoiceActors.Regions;

namespace VoiceActors.Tests.Regions;

public sealed class RegionSelectorTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 25, 9, 0, 0, TimeSpan.Zero);

    private static RegionInfo Region(string name, bool healthy = true, bool primary = false, string[]? fallback = null, string[]? tenants = null) =>
        new(name, healthy, RegionHealthMode.Auto, healthy ? "probe ok" : "LiveKit unreachable", fallback ?? [], $"wss://{name}.example", primary, tenants ?? [], Now);

    private static RegionDirectoryView View(params RegionInfo[] regions) => new(regions, Now);

    private static Func<string, RegionCapacity> Capacity(params (string Region, int Active, int Capacity)[] loads) => region =>
    {
        foreach (var l in loads) if (l.Region == region) return new RegionCapacity(region, [], l.Active, l.Capacity, 0, Now);
        return new RegionCapacity(region, [], 0, 100, 0, Now);
    };

    private static readonly RegionDirectoryView ThreeRegions = View(
        Region("eu", primary: true, fallback: ["us"]),
        Region("us", fallback: ["eu"], tenants: ["acme"]),
        Region("ap", fallback: ["us", "eu"]));

    [Fact]
    public void The_lowest_latency_healthy_region_with_capacity_wins_and_says_so()
    {
        var a = RegionSelector.Select(ThreeRegions, Capacity(), new("t", new Dictionary<string, double> { ["eu"] = 180, ["ap"] = 35.5, ["us"] = 90 }), 5);
        Assert.Equal("ap", a.Region);
        Assert.Equal("lowest round-trip time: 35.5 ms", a.Reason);
        Assert.Equal("wss://ap.example", a.LiveKitUrl);
    }

    [Fact]
    public void A_down_or_full_nearest_region_is_skipped_for_the_next_nearest_and_the_reason_names_why()
    {
        var view = View(Region("eu", primary: true), Region("us"), Region("ap", healthy: false));
        var a = RegionSelector.Select(view, Capacity(("eu", 10, 10)), new("t", new Dictionary<string, double> { ["ap"] = 20, ["eu"] = 30, ["us"] = 90 }), 5);
        Assert.Equal("us", a.Region);
        Assert.Equal("fallback from ap (lowest round-trip time): 90 ms; skipped ap is down (LiveKit unreachable), eu is full (10/10)", a.Reason);
    }

    [Fact]
    public void Without_pings_the_tenant_home_region_then_the_configured_primary_is_used()
    {
        Assert.Equal(("us", "home region of tenant acme"), Pick(RegionSelector.Select(ThreeRegions, Capacity(), new("acme", null), 5)));
        Assert.Equal(("eu", "configured primary region"), Pick(RegionSelector.Select(ThreeRegions, Capacity(), new("other", new Dictionary<string, double>()), 5)));
        static (string, string) Pick(RegionAdmission a) => (a.Region, a.Reason);
    }

    [Fact]
    public void Unknown_region_names_in_pings_are_ignored_and_reported()
    {
        var a = RegionSelector.Select(ThreeRegions, Capacity(), new("t", new Dictionary<string, double> { ["mars"] = 1, ["us"] = 40 }), 5);
        Assert.Equal("us", a.Region);
        Assert.Equal("lowest round-trip time: 40 ms; ignored unknown regions mars", a.Reason);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(60_001)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(double.NegativeInfinity)]
    public void Negative_or_absurd_pings_are_refused(double ms)
    {
        var e = Assert.Throws<RequestValidationException>(() =>
            RegionSelector.Select(ThreeRegions, Capacity(), new("t", new Dictionary<string, double> { ["eu"] = ms }), 5));
        Assert.Equal("regionPings.eu", e.Field);
    }

    [Fact]
    public void When_every_region_is_full_the_create_is_refused_with_a_retry_after()
    {
        var e = Assert.Throws<RegionCapacityExceededException>(() =>
            RegionSelector.Select(ThreeRegions, Capacity(("eu", 5, 5), ("us", 3, 3), ("ap", 0, 0)), new("t", null), 7));
        Assert.Equal("eu", e.Region);
        Assert.Equal(7, e.RetryAfterSeconds);
        Assert.Equal(5, e.Capacity);
    }

    [Fact]
    public void When_no_region_is_healthy_nothing_is_admitted()
    {
        var view = View(Region("eu", healthy: false, primary: true), Region("us", healthy: false));
        Assert.Throws<NoHealthyRegionException>(() => RegionSelector.Select(view, Capacity(), new("t", null), 5));
    }

    [Fact]
    public void Failover_follows_the_fallback_order_to_a_healthy_region_and_prefers_one_with_room()
    {
        var view = View(Region("eu", primary: true), Region("us"), Region("ap", healthy: false, fallback: ["eu", "us"]));
        Assert.Equal("eu", RegionSelector.FailoverTarget(view, Capacity(), "ap")!.Name);
        Assert.Equal("us", RegionSelector.FailoverTarget(view, Capacity(("eu", 9, 9)), "ap")!.Name);
        // All full: a live interview still moves (to the first healthy fallback) rather than being dropped.
        Assert.Equal("eu", RegionSelector.FailoverTarget(view, Capacity(("eu", 9, 9), ("us", 9, 9)), "ap")!.Name);
        Assert.Null(RegionSelector.FailoverTarget(View(Region("eu", healthy: false), Region("us", healthy: false)), Capacity(), "eu"));
    }
}
