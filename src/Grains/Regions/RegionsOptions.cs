using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using VoiceActors.LiveKit;

namespace VoiceActors.Regions;

/// <summary>One region under <c>Regions:&lt;name&gt;</c>: its LiveKit, where its sessions go when it is down, and whose primary it is.</summary>
public sealed class RegionOptions
{
    /// <summary>The configured primary: new interviews without pings and without a tenant region go here.</summary>
    public bool Primary { get; set; }

    /// <summary>Regions to fail over to, nearest first (others follow in configuration order).</summary>
    public List<string> Fallback { get; set; } = [];

    /// <summary>Tenants whose interviews default to this region when the client sent no pings.</summary>
    public List<string> Tenants { get; set; } = [];

    /// <summary>The region's LiveKit as the LiveKit directory reads it (<see cref="LiveKitOptions.ForRegion"/>): <c>Regions:&lt;name&gt;:LiveKit</c> over the top-level <c>LiveKit</c>.</summary>
    public LiveKitOptions LiveKit { get; set; } = new();
}

/// <summary>
/// All regions (configuration section <c>Regions</c>, one child per region), plus the silo's own <c>Silo:Region</c> if not listed
/// (served by the top-level <c>LiveKit</c> section). With none configured, the cluster is that one region.
/// </summary>
public sealed class RegionsOptions
{
    public const string Section = LiveKitOptions.RegionsSection;

    public Dictionary<string, RegionOptions> Regions { get; set; } = new(StringComparer.Ordinal);

    /// <summary>This silo's region (<c>Silo:Region</c>).</summary>
    public string LocalRegion { get; set; } = SiloRegion.Default;

    /// <summary>Reads the section; region names keep their configured spelling and configuration order.</summary>
    public static void Bind(RegionsOptions o, IConfiguration config)
    {
        o.LocalRegion = SiloRegion.Of(config);
        foreach (var child in config.GetSection(Section).GetChildren())
        {
            var region = child.Get<RegionOptions>() ?? new RegionOptions();
            region.LiveKit = LiveKitOptions.ForRegion(config, child.Key);
            o.Regions[child.Key] = region;
        }
        // A silo always serves its own region: sections that only configure some regions' LiveKit must not orphan it.
        if (!o.Regions.ContainsKey(o.LocalRegion))
            o.Regions[o.LocalRegion] = new RegionOptions { Primary = o.Regions.Count == 0, LiveKit = LiveKitOptions.ForRegion(config, null) };
    }

    /// <summary>The configured primary, or the first region when none is marked.</summary>
    public string PrimaryRegion
    {
        get
        {
            foreach (var (name, r) in Regions) if (r.Primary) return name;
            foreach (var name in Regions.Keys) return name;
            return LocalRegion;
        }
    }
}

public sealed class RegionsOptionsValidator : OptionsValidator<RegionsOptions>
{
    protected override void Check(string? name, RegionsOptions o, List<string> errors)
    {
        var primaries = 0;
        var tenants = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (region, r) in o.Regions)
        {
            if (region.Length > 64) errors.Add($"Regions:{region}: region names must be at most 64 characters.");
            if (r.Primary) primaries++;
            foreach (var f in r.Fallback)
            {
                if (!o.Regions.ContainsKey(f)) errors.Add($"Regions:{region}:Fallback names '{f}', which is not a configured region.");
                else if (f == region) errors.Add($"Regions:{region}:Fallback names the region itself; a region cannot fail over to itself.");
            }
            foreach (var t in r.Tenants)
                if (!tenants.TryAdd(t, region)) errors.Add($"Tenant '{t}' is assigned to both {tenants[t]} and {region}; a tenant has one home region.");
            if (r.LiveKit.Url is { Length: > 0 } url && !Uri.TryCreate(url, UriKind.Absolute, out _))
                errors.Add($"Regions:{region}:LiveKit:Url '{url}' is not an absolute URL.");
        }
        if (primaries > 1) errors.Add("More than one region is marked Primary; mark exactly one (or none: the first is primary).");
    }
}

/// <summary>How often regions are probed and views refreshed (section <c>RegionHealth</c>).</summary>
public sealed class RegionHealthOptions
{
    public const string Section = "RegionHealth";

    /// <summary>Period of the directory's health probes (LiveKit reachability, live silos).</summary>
    public TimeSpan ProbePeriod { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>A LiveKit that does not answer within this is counted down.</summary>
    public TimeSpan ProbeTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Each silo reports its load and refreshes its regional view this often; it bounds how stale admission and placement are.</summary>
    public TimeSpan ViewRefreshPeriod { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>A silo that has not reported for this long no longer counts (it died or left).</summary>
    public TimeSpan SiloReportExpiry { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The Retry-After given with a 429 or 503.</summary>
    public TimeSpan RetryAfter { get; set; } = TimeSpan.FromSeconds(5);
}

public sealed class RegionHealthOptionsValidator : OptionsValidator<RegionHealthOptions>
{
    protected override void Check(string? name, RegionHealthOptions o, List<string> errors)
    {
        if (o.ProbePeriod < TimeSpan.FromMilliseconds(100)) errors.Add("RegionHealth:ProbePeriod must be at least 100ms.");
        if (o.ProbeTimeout <= TimeSpan.Zero || o.ProbeTimeout > o.ProbePeriod) errors.Add("RegionHealth:ProbeTimeout must be positive and at most ProbePeriod, or probes pile up.");
        if (o.ViewRefreshPeriod < TimeSpan.FromMilliseconds(50)) errors.Add("RegionHealth:ViewRefreshPeriod must be at least 50ms.");
        if (o.SiloReportExpiry <= o.ViewRefreshPeriod) errors.Add("RegionHealth:SiloReportExpiry must exceed ViewRefreshPeriod, or live silos would expire between reports.");
        if (o.RetryAfter < TimeSpan.FromSeconds(1)) errors.Add("RegionHealth:RetryAfter must be at least 1s (Retry-After has second resolution).");
    }
}
