using Microsoft.Extensions.Configuration;
using VoiceActors.Placement;
using VoiceActors.Regions;

namespace VoiceActors.Tests.Regions;

public sealed class RegionOptionsTests
{
    private static RegionsOptions Bind(Dictionary<string, string?> settings)
    {
        var o = new RegionsOptions();
        RegionsOptions.Bind(o, new ConfigurationBuilder().AddInMemoryCollection(settings).Build());
        return o;
    }

    [Fact]
    public void Without_a_regions_section_the_silo_region_is_the_only_region_served_by_the_top_level_livekit()
    {
        var o = Bind(new() { ["Silo:Region"] = "eu-west", ["LiveKit:Url"] = "wss://lk.example" });
        var only = Assert.Single(o.Regions);
        Assert.Equal("eu-west", only.Key);
        Assert.Equal("wss://lk.example", only.Value.LiveKit.Url);
        Assert.Equal("eu-west", o.PrimaryRegion);
        Assert.True(new RegionsOptionsValidator().Validate(null, o).Succeeded);
    }

    [Fact]
    public void A_region_livekit_section_overrides_the_top_level_one()
    {
        var o = Bind(new()
        {
            ["Silo:Region"] = "us", ["LiveKit:Url"] = "wss://default.example", ["LiveKit:ApiKey"] = "k",
            ["Regions:us:LiveKit:Url"] = "wss://us.example", ["Regions:eu:Primary"] = "true",
        });
        Assert.Equal("wss://us.example", o.Regions["us"].LiveKit.Url);
        Assert.Equal("k", o.Regions["us"].LiveKit.ApiKey);
        Assert.Equal("wss://default.example", o.Regions["eu"].LiveKit.Url);
        Assert.Equal("eu", o.PrimaryRegion);
    }

    [Fact]
    public void Configuration_mistakes_are_reported_with_what_to_fix()
    {
        var o = Bind(new()
        {
            ["Silo:Region"] = "mars",
            ["Regions:eu:Primary"] = "true", ["Regions:eu:Fallback:0"] = "atlantis", ["Regions:eu:Tenants:0"] = "acme",
            ["Regions:us:Primary"] = "true", ["Regions:us:Fallback:0"] = "us", ["Regions:us:Tenants:0"] = "acme",
        });
        var result = new RegionsOptionsValidator().Validate(null, o);
        Assert.True(result.Failed);
        Assert.Contains(result.Failures!, f => f.Contains("'atlantis', which is not a configured region"));
        Assert.Contains(result.Failures!, f => f.Contains("cannot fail over to itself"));
        Assert.Contains(result.Failures!, f => f.Contains("Tenant 'acme' is assigned to both"));
        Assert.Contains(result.Failures!, f => f.Contains("More than one region is marked Primary"));
    }

    [Fact]
    public void A_silo_whose_region_is_not_listed_still_serves_it_with_the_top_level_livekit()
    {
        var o = Bind(new() { ["Silo:Region"] = "ap", ["LiveKit:Url"] = "wss://default.example", ["Regions:eu:LiveKit:Url"] = "wss://eu.example" });
        Assert.Equal(["eu", "ap"], o.Regions.Keys);
        Assert.Equal("wss://default.example", o.Regions["ap"].LiveKit.Url);
        Assert.Equal("eu", o.PrimaryRegion);
        Assert.True(new RegionsOptionsValidator().Validate(null, o).Succeeded);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-5)]
    public void A_capacity_of_zero_or_less_is_refused_at_start(int capacity)
    {
        var result = new SiloCapacityOptionsValidator().Validate(null, new SiloCapacityOptions { MaxConcurrentSessions = capacity });
        Assert.True(result.Failed);
        Assert.Contains("Silo:MaxConcurrentSessions must be at least 1", result.FailureMessage);
    }

    [Fact]
    public void Health_and_drain_settings_that_cannot_work_are_refused()
    {
        Assert.True(new RegionHealthOptionsValidator().Validate(null, new RegionHealthOptions { SiloReportExpiry = TimeSpan.FromMilliseconds(500) }).Failed);
        Assert.True(new RegionHealthOptionsValidator().Validate(null, new RegionHealthOptions { ProbeTimeout = TimeSpan.FromSeconds(10) }).Failed);
        Assert.True(new DrainOptionsValidator().Validate(null, new DrainOptions { Deadline = TimeSpan.Zero }).Failed);
        Assert.True(new RegionHealthOptionsValidator().Validate(null, new RegionHealthOptions()).Succeeded);
        Assert.True(new DrainOptionsValidator().Validate(null, new DrainOptions()).Succeeded);
    }
}
