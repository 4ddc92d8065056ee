using VoiceActors.Regions;

namespace VoiceActors.Tests.Regions;

/// <summary>The directory grain on an in-process silo (fake clock): overrides, refusals, probes.</summary>
public sealed class RegionDirectoryTests : IAsyncLifetime
{
    private TestSilo _silo = null!;
    private IRegionDirectoryGrain Directory => _silo.Grains.GetGrain<IRegionDirectoryGrain>(IRegionDirectoryGrain.Key);

    public async Task InitializeAsync() => _silo = await TestSilo.StartAsync(new Dictionary<string, string?>
    {
        ["Silo:Region"] = "eu",
        ["Regions:eu:Primary"] = "true",
        ["Regions:eu:Fallback:0"] = "us",
        ["Regions:us:Fallback:0"] = "eu",
        ["Regions:us:LiveKit:Url"] = $"ws://127.0.0.1:{FreePort.Next()}", // nothing listens there
        ["Silo:MaxConcurrentSessions"] = "2",
    });

    public async Task DisposeAsync() => await _silo.DisposeAsync();

    [Fact]
    public async Task Marking_the_last_healthy_region_down_is_refused_and_changes_nothing()
    {
        var us = await Directory.SetHealth("us", RegionHealthMode.Down, "drill");
        Assert.False(us.Healthy);
        Assert.Equal("marked down by operator: drill", us.HealthReason);

        var e = await Assert.ThrowsAsync<LastHealthyRegionException>(() => Directory.SetHealth("eu", RegionHealthMode.Down, "oops"));
        Assert.Equal("eu", e.Region);
        Assert.True((await Directory.GetView()).Find("eu")!.Healthy);

        var back = await Directory.SetHealth("us", RegionHealthMode.Auto, "");
        Assert.True(back.Healthy);
        Assert.Equal(RegionHealthMode.Auto, back.Override);
    }

    [Fact]
    public async Task Unknown_regions_and_undefined_modes_are_refused()
    {
        var unknown = await Assert.ThrowsAsync<UnknownRegionException>(() => Directory.SetHealth("mars", RegionHealthMode.Down, ""));
        Assert.Equal(["eu", "us"], unknown.Known.Order());
        await Assert.ThrowsAsync<RequestValidationException>(() => Directory.SetHealth("eu", (RegionHealthMode)42, ""));
    }

    [Fact]
    public async Task A_region_whose_livekit_does_not_answer_is_probed_down_and_one_without_an_external_livekit_stays_up()
    {
        await Directory.GetView();
        _silo.Clock.Advance(TimeSpan.FromSeconds(5)); // one probe period
        await SiloFleet.WaitUntilAsync(async () => (await Directory.GetView()).Find("us")!.CheckedAt is not null,
            TimeSpan.FromSeconds(10), () => "the probe never ran");
        var view = await Directory.GetView();
        Assert.False(view.Find("us")!.Healthy);
        Assert.StartsWith("LiveKit unreachable", view.Find("us")!.HealthReason);
        Assert.True(view.Find("eu")!.Healthy);
        Assert.Equal("in-process LiveKit stand-in", view.Find("eu")!.HealthReason);
    }

    [Fact]
    public async Task A_silo_at_capacity_refuses_a_direct_create_with_a_typed_error()
    {
        CreateSession Command() => new("t", "c", "j", ProviderSettings.Default, ConsentFlags.None, "eu");
        await _silo.Grains.GetGrain<IInterviewSessionGrain>(SessionIds.New()).Create(Command());
        await _silo.Grains.GetGrain<IInterviewSessionGrain>(SessionIds.New()).Create(Command());
        var e = await Assert.ThrowsAsync<RegionCapacityExceededException>(() =>
            _silo.Grains.GetGrain<IInterviewSessionGrain>(SessionIds.New()).Create(Command()));
        Assert.Equal(2, e.Capacity);
    }
}
